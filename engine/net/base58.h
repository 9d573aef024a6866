#pragma once
// Base58 (the Bitcoin alphabet), the text form of peer ids.
// Thread: any; pure functions.

#include <optional>
#include <string>
#include <string_view>

namespace corolla {

std::string base58Encode(std::string_view bytes);
// nullopt when `text` holds a character outside the alphabet.
std::optional<std::string> base58Decode(std::string_view text);

} // namespace corolla
