#include "tokenizer/replacepattern.h"

#include <nlohmann/json.hpp>

namespace corolla {

Result<ReplacePattern> ReplacePattern::fromJson(const nlohmann::json &json)
{
    ReplacePattern replace;
    replace.m_content = json.value("content", "");
    const auto pattern = json.find("pattern");
    if (pattern == json.end() || !pattern->is_object())
        return makeError(ErrorCode::Format, "tokenizer.json: Replace needs a 'pattern' object");
    if (pattern->contains("String")) {
        replace.m_literal = (*pattern)["String"].get<std::string>();
        if (replace.m_literal.empty())
            return makeError(ErrorCode::Format, "tokenizer.json: Replace with an empty pattern");
    } else if (pattern->contains("Regex")) {
        auto regex = Regex::compile((*pattern)["Regex"].get<std::string>());
        if (!regex)
            return regex.error();
        replace.m_regex = std::move(regex).value();
    } else {
        return makeError(ErrorCode::Format,
                         "tokenizer.json: Replace pattern must be String or Regex");
    }
    return replace;
}

std::string ReplacePattern::apply(const std::string &text) const
{
    std::string out;
    std::size_t last = 0;
    if (m_regex) {
        for (const auto &[begin, end] : m_regex->findAll(text)) {
            out.append(text, last, begin - last);
            out += m_content;
            last = end;
        }
    } else {
        for (std::size_t at = text.find(m_literal); at != std::string::npos;
             at = text.find(m_literal, last)) {
            out.append(text, last, at - last);
            out += m_content;
            last = at + m_literal.size();
        }
    }
    out.append(text, last, std::string::npos);
    return out;
}

} // namespace corolla
