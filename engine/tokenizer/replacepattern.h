#pragma once
// The {"pattern": {"String" | "Regex": ...}, "content": ...} replacement shared by the
// Replace normalizer and the Replace decoder.
// Thread: any.

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"
#include "tokenizer/regex.h"

namespace corolla {

class ReplacePattern {
public:
    static Result<ReplacePattern> fromJson(const nlohmann::json &json);
    // Every occurrence of the pattern in `text` replaced by the content.
    std::string apply(const std::string &text) const;

private:
    std::string m_literal;
    std::optional<Regex> m_regex;
    std::string m_content;
};

} // namespace corolla
