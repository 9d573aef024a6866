#include "tokenizer/utf8.h"

namespace corolla::utf8 {

std::size_t sequenceLength(std::string_view text, std::size_t at)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    std::size_t length = 0;
    char32_t minimum = 0, codepoint = 0;
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0) {
        length = 2, minimum = 0x80, codepoint = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, minimum = 0x800, codepoint = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4, minimum = 0x10000, codepoint = lead & 0x07;
    } else {
        return 0;
    }
    if (at + length > text.size())
        return 0;
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(at + i) & 0xC0) != 0x80)
            return 0;
        codepoint = (codepoint << 6) | (byte(at + i) & 0x3F);
    }
    if (codepoint < minimum || codepoint > 0x10FFFF || (codepoint >= 0xD800 && codepoint <= 0xDFFF))
        return 0;
    return length;
}

bool isValid(std::string_view text)
{
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t length = sequenceLength(text, at);
        if (length == 0)
            return false;
        at += length;
    }
    return true;
}

std::string lossy(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t length = sequenceLength(text, at);
        if (length == 0) {
            out += "\xEF\xBF\xBD";
            // Skip the maximal prefix of a sequence that could have been valid, as Rust does.
            std::size_t skip = 1;
            const unsigned char lead = static_cast<unsigned char>(text[at]);
            const std::size_t expected = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            while (skip < expected && at + skip < text.size()
                   && (static_cast<unsigned char>(text[at + skip]) & 0xC0) == 0x80)
                ++skip;
            if (expected > 1 && lead >= 0xC2 && lead <= 0xF4) {
                // Rust counts only continuation bytes that keep the prefix valid; these
                // checks cover the cases that matter (overlong E0/F0 and surrogate ED forms).
                const unsigned char second =
                    at + 1 < text.size() ? static_cast<unsigned char>(text[at + 1]) : 0;
                const bool badSecond =
                    (lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F)
                    || (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F);
                if (badSecond)
                    skip = 1;
            } else {
                skip = 1;
            }
            at += skip;
            continue;
        }
        out.append(text.substr(at, length));
        at += length;
    }
    return out;
}

std::vector<std::string> characters(std::string_view text)
{
    std::vector<std::string> out;
    for (std::size_t at = 0; at < text.size();) {
        std::size_t length = sequenceLength(text, at);
        if (length == 0)
            length = 1;
        out.emplace_back(text.substr(at, length));
        at += length;
    }
    return out;
}

std::string encode(char32_t c)
{
    std::string out;
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xC0 | (c >> 6));
        out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += char(0xE0 | (c >> 12));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    } else {
        out += char(0xF0 | (c >> 18));
        out += char(0x80 | ((c >> 12) & 0x3F));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    }
    return out;
}

std::size_t incompleteTail(std::string_view text)
{
    // Look back at most three bytes for a lead byte whose sequence runs past the end.
    for (std::size_t back = 1; back <= 3 && back <= text.size(); ++back) {
        const unsigned char byte = static_cast<unsigned char>(text[text.size() - back]);
        if ((byte & 0xC0) == 0x80)
            continue;
        const std::size_t expected = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
        return expected > back ? back : 0;
    }
    return 0;
}

} // namespace corolla::utf8
