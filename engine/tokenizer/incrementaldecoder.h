#pragma once
// Streams text while tokens arrive: each push() returns the text that became final, never a
// broken UTF-8 sequence, and all pushes plus finish() equal the decode of all ids.
// Thread: one thread per decoder.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace corolla {

class IncrementalDecoder {
public:
    IncrementalDecoder(const Tokenizer &tokenizer, SpecialTokens special)
        : m_tokenizer(tokenizer)
        , m_special(special)
    {
    }

    // The new text that token `id` completes; may be empty while a character is unfinished.
    Result<std::string> push(std::int64_t id);
    // Whatever is still held back (an unfinished character, as U+FFFD).
    Result<std::string> finish();

private:
    // The text of ids[prefix, read) and of ids[prefix, end).
    Result<std::pair<std::string, std::string>> decodeWindow() const;

    const Tokenizer &m_tokenizer;
    SpecialTokens m_special;
    std::vector<std::int64_t> m_ids;
    std::size_t m_prefixOffset = 0; // text of ids[m_prefixOffset, m_readOffset) was emitted
    std::size_t m_readOffset = 0;
};

} // namespace corolla
