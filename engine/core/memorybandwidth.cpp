#include "core/memorybandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <memory>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace corolla {

namespace {

// Sums 64-byte vectors with four independent accumulators, so the loop is limited by memory
// rather than by the add chain. On Linux the compiler builds AVX-512 and AVX2 variants and
// picks the widest the processor runs; the GCC/Clang vector type maps onto either.
typedef std::uint64_t Lanes __attribute__((vector_size(64)));

// Not under ThreadSanitizer: the clones' resolver runs while the program is being loaded,
// before the sanitizer's runtime is there to take its instrumented calls.
#if defined(__linux__) && defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
std::uint64_t
sumWords(const std::uint64_t *words, std::size_t count)
{
    const std::size_t vectors = count / 8;
    Lanes acc[4] = {};
    std::size_t i = 0;
    for (; i + 4 <= vectors; i += 4) {
        for (int lane = 0; lane < 4; ++lane) {
            Lanes value;
            std::memcpy(&value, words + (i + std::size_t(lane)) * 8, sizeof value);
            acc[lane] += value;
        }
    }
    std::uint64_t total = 0;
    for (const Lanes &lanes : acc) {
        for (int j = 0; j < 8; ++j)
            total += lanes[j];
    }
    for (std::size_t j = i * 8; j < count; ++j)
        total += words[j];
    return total;
}

template <typename Work> void forEachSlice(int threadCount, std::size_t words, Work &&work)
{
    const std::size_t slice = words / std::size_t(threadCount);
    std::vector<std::thread> threads;
    for (int t = 0; t < threadCount; ++t) {
        const std::size_t begin = slice * std::size_t(t);
        const std::size_t end = t + 1 == threadCount ? words : begin + slice;
        threads.emplace_back([&work, begin, end] { work(begin, end); });
    }
    for (auto &thread : threads)
        thread.join();
}

} // namespace

void MemoryBandwidthProbe::FreeDeleter::operator()(std::uint64_t *pointer) const
{
    std::free(pointer);
}

MemoryBandwidthProbe::MemoryBandwidthProbe(std::size_t bufferBytes, int threads)
    : m_words(bufferBytes / sizeof(std::uint64_t))
    , m_threads(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency())))
{
    // Huge pages where the system offers them, as the engine uses for weights: the bound is
    // the best streaming read this machine can do, not one slowed by TLB misses.
    constexpr std::size_t kHugePage = std::size_t(2) << 20;
    const std::size_t bytes =
        (m_words * sizeof(std::uint64_t) + kHugePage - 1) / kHugePage * kHugePage;
#if defined(__linux__)
    m_buffer.reset(static_cast<std::uint64_t *>(std::aligned_alloc(kHugePage, bytes)));
    if (m_buffer)
        ::madvise(m_buffer.get(), bytes, MADV_HUGEPAGE);
#else
    m_buffer.reset(static_cast<std::uint64_t *>(std::malloc(bytes)));
#endif
    if (!m_buffer)
        throw std::bad_alloc();
    // Each thread writes its own slice first, so its pages are placed near the reader, and
    // the values are not zero (a hypervisor may share zero pages, which would read from cache).
    forEachSlice(m_threads, m_words, [this](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i)
            m_buffer.get()[i] = i * 2654435761u + 1;
    });
}

double MemoryBandwidthProbe::measure(int passes, const ParallelFor &parallelFor)
{
    std::atomic<std::uint64_t> sink{0};
    double best = 0.0;
    for (int pass = 0; pass < std::max(1, passes); ++pass) {
        const auto start = std::chrono::steady_clock::now();
        const auto read = [&](std::size_t begin, std::size_t end) {
            sink += sumWords(m_buffer.get() + begin, end - begin);
        };
        if (parallelFor)
            parallelFor(m_words, read);
        else
            forEachSlice(m_threads, m_words, read);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        best = std::max(best, double(m_words * sizeof(std::uint64_t)) / seconds);
    }
    // `sink` is atomic and therefore observable: the reads cannot be optimised away.
    return best;
}

} // namespace corolla
