#pragma once
// Measures the machine's memory read bandwidth with a plain multi-threaded streaming read of
// a buffer far larger than any cache. Keep one probe and call measure() between the steps of
// a benchmark, so that the bound and the measured code see the same machine conditions.
// Thread: any (measure() starts and joins its own threads).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace corolla {

class MemoryBandwidthProbe {
public:
    // Runs work(begin, end) over slices covering [0, count) on several threads and returns
    // when all are done. A benchmark passes its compute thread pool, so that the probe reads
    // with the same threads as the code it bounds (extra threads would compete with a pool
    // that is still spinning).
    using ParallelFor = std::function<void(
        std::size_t count, const std::function<void(std::size_t begin, std::size_t end)> &work)>;

    // bufferBytes: the streamed buffer; threads 0 means one per hardware thread.
    explicit MemoryBandwidthProbe(std::size_t bufferBytes = std::size_t(1) << 30, int threads = 0);

    // Bytes per second of the fastest of `passes` full reads of the buffer; without
    // `parallelFor`, on threads of its own.
    double measure(int passes = 2, const ParallelFor &parallelFor = {});

private:
    struct FreeDeleter {
        void operator()(std::uint64_t *pointer) const;
    };
    std::unique_ptr<std::uint64_t, FreeDeleter> m_buffer;
    std::size_t m_words = 0;
    int m_threads = 1;
};

} // namespace corolla
