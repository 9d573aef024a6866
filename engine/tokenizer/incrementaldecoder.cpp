#include "tokenizer/incrementaldecoder.h"

namespace corolla {

namespace {
constexpr const char kReplacement[] = "\xEF\xBF\xBD";
}

Result<std::pair<std::string, std::string>> IncrementalDecoder::decodeWindow() const
{
    // Decoding from a few tokens back keeps the decoders' context (leading-space rules,
    // byte runs) while the text already emitted is subtracted.
    const auto begin = m_ids.begin() + std::ptrdiff_t(m_prefixOffset);
    auto before =
        m_tokenizer.decode({begin, m_ids.begin() + std::ptrdiff_t(m_readOffset)}, m_special);
    if (!before)
        return before.error();
    auto after = m_tokenizer.decode({begin, m_ids.end()}, m_special);
    if (!after)
        return after.error();
    return std::make_pair(std::move(before).value(), std::move(after).value());
}

Result<std::string> IncrementalDecoder::push(std::int64_t id)
{
    m_ids.push_back(id);
    auto window = decodeWindow();
    if (!window)
        return window.error();
    const auto &[before, after] = *window;
    const bool unfinished =
        after.size() >= 3 && after.compare(after.size() - 3, 3, kReplacement) == 0;
    if (after.size() <= before.size() || unfinished || after.compare(0, before.size(), before) != 0)
        return std::string();
    m_prefixOffset = m_readOffset;
    m_readOffset = m_ids.size();
    return after.substr(before.size());
}

Result<std::string> IncrementalDecoder::finish()
{
    auto window = decodeWindow();
    if (!window)
        return window.error();
    const auto &[before, after] = *window;
    m_prefixOffset = m_readOffset = m_ids.size();
    if (after.size() <= before.size() || after.compare(0, before.size(), before) != 0)
        return std::string();
    return after.substr(before.size());
}

} // namespace corolla
