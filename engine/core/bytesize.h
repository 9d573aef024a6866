#pragma once
// Sizes in bytes as people write and read them.
// Thread: any; pure functions.

#include <cstdint>
#include <string>

#include "core/result.h"

namespace corolla {

// "24GiB", "512MB", "1.5G", "1000000" (bytes) -> bytes.
Result<std::int64_t> parseByteSize(const std::string &text);
// "1.50 GiB", "512.0 MiB".
std::string formatBytes(std::int64_t bytes);

} // namespace corolla
