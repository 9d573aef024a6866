#pragma once
// UTF-8 helpers shared by the tokenizer stages.
// Thread: any.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corolla::utf8 {

// Length in bytes of the well-formed sequence starting at text[at], or 0 if it is not one.
std::size_t sequenceLength(std::string_view text, std::size_t at);
// Whether all of `text` is well-formed UTF-8.
bool isValid(std::string_view text);
// `text` with every ill-formed sequence replaced by U+FFFD, as Rust's from_utf8_lossy does.
std::string lossy(std::string_view text);
// Splits well-formed `text` into its characters (each a UTF-8 string).
std::vector<std::string> characters(std::string_view text);
// The UTF-8 encoding of one code point.
std::string encode(char32_t codepoint);
// Bytes at the end of `text` that begin a sequence that is not complete yet (0 to 3).
std::size_t incompleteTail(std::string_view text);

} // namespace corolla::utf8
