#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace corolla {

Result<Regex> Regex::compile(const std::string &pattern)
{
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &errorCode, &errorOffset, nullptr);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(errorCode, message, sizeof message);
        return makeError(ErrorCode::Format, "regex '" + pattern + "' at offset "
                                                + std::to_string(errorOffset) + ": "
                                                + reinterpret_cast<const char *>(message));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); // faster when available; optional
    Regex regex;
    regex.m_code =
        std::shared_ptr<void>(code, [](void *p) { pcre2_code_free(static_cast<pcre2_code *>(p)); });
    return regex;
}

std::vector<std::pair<std::size_t, std::size_t>> Regex::findAll(std::string_view text) const
{
    std::vector<std::pair<std::size_t, std::size_t>> matches;
    auto *code = static_cast<pcre2_code *>(m_code.get());
    pcre2_match_data *data = pcre2_match_data_create_from_pattern(code, nullptr);
    std::size_t offset = 0;
    while (offset <= text.size()) {
        // The text was validated as UTF-8 before; skip PCRE2's own check on every call.
        const int found = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                                      offset, PCRE2_NO_UTF_CHECK, data, nullptr);
        if (found < 0)
            break;
        const PCRE2_SIZE *vector = pcre2_get_ovector_pointer(data);
        const std::size_t begin = vector[0], end = vector[1];
        if (end == begin) {
            // An empty match: step over one character so the search always advances.
            if (begin >= text.size())
                break;
            std::size_t step = 1;
            while (begin + step < text.size()
                   && (static_cast<unsigned char>(text[begin + step]) & 0xC0) == 0x80)
                ++step;
            offset = begin + step;
            continue;
        }
        matches.emplace_back(begin, end);
        offset = end;
    }
    pcre2_match_data_free(data);
    return matches;
}

} // namespace corolla
