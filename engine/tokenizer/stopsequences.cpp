#include "tokenizer/stopsequences.h"

#include <algorithm>

namespace corolla {

StopSequences::StopSequences(std::vector<std::string> sequences)
    : m_sequences(std::move(sequences))
{
    std::erase_if(m_sequences, [](const std::string &sequence) { return sequence.empty(); });
}

std::string StopSequences::push(const std::string &piece)
{
    if (m_stopped)
        return {};
    m_pending += piece;
    std::size_t stop = std::string::npos;
    for (const std::string &sequence : m_sequences)
        stop = std::min(stop, m_pending.find(sequence));
    if (stop != std::string::npos) {
        m_stopped = true;
        std::string shown = m_pending.substr(0, stop);
        m_pending.clear();
        return shown;
    }
    // Hold back the longest end of the text that a stop sequence could still grow from.
    std::size_t held = 0;
    for (const std::string &sequence : m_sequences)
        for (std::size_t length = std::min(sequence.size() - 1, m_pending.size()); length > held;
             --length)
            if (m_pending.compare(m_pending.size() - length, length, sequence, 0, length) == 0) {
                held = length;
                break;
            }
    std::string shown = m_pending.substr(0, m_pending.size() - held);
    m_pending.erase(0, m_pending.size() - held);
    return shown;
}

std::string StopSequences::finish()
{
    std::string rest = m_stopped ? std::string() : m_pending;
    m_pending.clear();
    return rest;
}

} // namespace corolla
