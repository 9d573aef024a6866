#pragma once
// "host:port" addresses as users and records write them ("[::1]:4000" for IPv6).
// Thread: any; pure function.

#include <string>
#include <utility>

#include <QtGlobal>

#include "core/result.h"

namespace corolla {

// "host:port" -> (host, port); an error that says what is wrong otherwise.
Result<std::pair<std::string, quint16>> parseHostPort(const std::string &text);

} // namespace corolla
