#pragma once
// A compiled PCRE2 pattern with Unicode semantics (\p{L}, \s and friends over code points),
// as the regexes of tokenizer.json expect.
// Thread: match() may be called from several threads (each call has its own match data).

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace corolla {

class Regex {
public:
    static Result<Regex> compile(const std::string &pattern);

    // Byte ranges [begin, end) of the successive non-overlapping matches in `text`.
    std::vector<std::pair<std::size_t, std::size_t>> findAll(std::string_view text) const;

private:
    std::shared_ptr<void> m_code; // pcre2_code_8, freed by its deleter
};

} // namespace corolla
