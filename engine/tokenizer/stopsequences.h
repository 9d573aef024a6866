#pragma once
// Stop sequences for streamed text: generation ends when the answer contains one of them,
// and the answer shown ends right before it. Text that might be the start of a stop sequence
// is held back until it is clear either way, so nothing of a stop sequence is ever shown.
// Thread: one generation at a time.

#include <string>
#include <vector>

namespace corolla {

class StopSequences {
public:
    explicit StopSequences(std::vector<std::string> sequences);

    // Takes the next piece of the answer; returns the text that can be shown now.
    std::string push(const std::string &piece);
    // The text held back, once the answer ended without a stop sequence.
    std::string finish();
    bool stopped() const { return m_stopped; }

private:
    std::vector<std::string> m_sequences;
    std::string m_pending;
    bool m_stopped = false;
};

} // namespace corolla
