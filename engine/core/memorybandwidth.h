#pragma once
// Measures the machine's memory read bandwidth with a plain multi-threaded streaming read of
// a buffer far larger than any cache. Keep one probe and call measure() between the steps of
// a benchmark, so that the bound and the measured code see the same machine conditions.
// Thread: any (measure() starts and joins its own threads).

#include <cstddef>
#include <cstdint>
#include <memory>

namespace corolla {

class MemoryBandwidthProbe {
public:
    // bufferBytes: the streamed buffer; threads 0 means one per hardware thread.
    explicit MemoryBandwidthProbe(std::size_t bufferBytes = std::size_t(1) << 30, int threads = 0);

    // Bytes per second of the fastest of `passes` full reads of the buffer.
    double measure(int passes = 2);

private:
    std::unique_ptr<std::uint64_t[]> m_buffer;
    std::size_t m_words = 0;
    int m_threads = 1;
};

} // namespace corolla
