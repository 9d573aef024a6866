#include "tokenizer/incrementaldecoder.h"

namespace corolla {

namespace {
constexpr const char kReplacement[] = "\xEF\xBF\xBD";
}

Result<std::string> IncrementalDecoder::push(std::int64_t id)
{
    m_ids.push_back(id);
    // Decoding from a few tokens back keeps the decoders' context (leading-space rules,
    // byte runs) while the text already emitted is subtracted.
    const std::vector<std::int64_t> emitted(m_ids.begin() + std::ptrdiff_t(m_prefixOffset),
                                            m_ids.begin() + std::ptrdiff_t(m_readOffset));
    const std::vector<std::int64_t> all(m_ids.begin() + std::ptrdiff_t(m_prefixOffset), m_ids.end());
    auto before = m_tokenizer.decode(emitted, m_skipSpecial);
    auto after = m_tokenizer.decode(all, m_skipSpecial);
    if (!before)
        return before.error();
    if (!after)
        return after.error();
    const bool unfinished = after->size() >= 3 && after->compare(after->size() - 3, 3, kReplacement) == 0;
    if (after->size() <= before->size() || unfinished || after->compare(0, before->size(), *before) != 0)
        return std::string();
    std::string text = after->substr(before->size());
    m_prefixOffset = m_readOffset;
    m_readOffset = m_ids.size();
    return text;
}

Result<std::string> IncrementalDecoder::finish()
{
    const std::vector<std::int64_t> emitted(m_ids.begin() + std::ptrdiff_t(m_prefixOffset),
                                            m_ids.begin() + std::ptrdiff_t(m_readOffset));
    const std::vector<std::int64_t> all(m_ids.begin() + std::ptrdiff_t(m_prefixOffset), m_ids.end());
    auto before = m_tokenizer.decode(emitted, m_skipSpecial);
    auto after = m_tokenizer.decode(all, m_skipSpecial);
    if (!before)
        return before.error();
    if (!after)
        return after.error();
    m_prefixOffset = m_readOffset = m_ids.size();
    if (after->size() <= before->size() || after->compare(0, before->size(), *before) != 0)
        return std::string();
    return after->substr(before->size());
}

} // namespace corolla
