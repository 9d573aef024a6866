#include "model/weightmemory.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <ATen/ops/from_blob.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace corolla {

namespace {

constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kMinimumBytes = std::size_t(1) << 20;
constexpr auto kWarmPeriod = std::chrono::milliseconds(10);
constexpr std::size_t kWarmPagesPerRound = 1024;

// The weight memory of this process: start -> bytes. Regions leave it before they are
// unmapped, under the same lock as the warmer's reads.
struct WeightRegions {
    std::mutex mutex;
    std::map<const std::uint8_t *, std::size_t> regions;
};

WeightRegions &weightRegions()
{
    static WeightRegions *regions = new WeightRegions; // outlives every tensor
    return *regions;
}

// Reads one byte of each of up to `budget` 2 MiB pages of weight memory, from the page at
// `from` (or the first page when null) on; returns the page where the next round starts.
const std::uint8_t *touchPages(const std::uint8_t *from, std::size_t budget)
{
    WeightRegions &weights = weightRegions();
    std::lock_guard lock(weights.mutex);
    // The region that holds `from`, else the first one after it.
    auto it = weights.regions.begin();
    if (from) {
        it = weights.regions.upper_bound(from);
        if (it != weights.regions.begin() && from < std::prev(it)->first + std::prev(it)->second)
            --it;
    }
    for (; it != weights.regions.end(); ++it) {
        const std::uint8_t *end = it->first + it->second;
        for (const std::uint8_t *page = from && from > it->first ? from : it->first; page < end;
             page += kHugePage) {
            if (budget-- == 0)
                return page;
            (void)*static_cast<const volatile std::uint8_t *>(page);
        }
    }
    return nullptr;
}

} // namespace

at::Tensor copyToWeightMemory(const at::Tensor &tensor)
{
    const at::Tensor source = tensor.contiguous();
    const std::size_t bytes = source.nbytes();
#if defined(__linux__)
    if (bytes < kMinimumBytes)
        return source;
    // Fresh pages from the kernel, not from malloc: malloc reuses memory that earlier,
    // freed allocations already faulted in as small pages, and a hint given afterwards does
    // not change those (measured: a quarter of a server's weights ended up in 4 KiB pages).
    const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void *mapped = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED)
        return source; // ordinary memory still works
    // Keep the 2 MiB aligned part only.
    auto *start = static_cast<std::uint8_t *>(mapped);
    auto *aligned = reinterpret_cast<std::uint8_t *>(
        (reinterpret_cast<std::uintptr_t>(start) + kHugePage - 1) / kHugePage * kHugePage);
    if (aligned > start)
        ::munmap(start, std::size_t(aligned - start));
    if (std::uint8_t *end = start + rounded + kHugePage; end > aligned + rounded)
        ::munmap(aligned + rounded, std::size_t(end - (aligned + rounded)));
    ::madvise(aligned, rounded, MADV_HUGEPAGE); // before the first touch; failure only costs speed
    std::memcpy(aligned, source.data_ptr(), bytes);
    {
        WeightRegions &weights = weightRegions();
        std::lock_guard lock(weights.mutex);
        weights.regions.emplace(aligned, rounded);
    }
    return at::from_blob(
        aligned, source.sizes(),
        [rounded](void *pointer) {
            WeightRegions &weights = weightRegions();
            std::lock_guard lock(weights.mutex);
            weights.regions.erase(static_cast<const std::uint8_t *>(pointer));
            ::munmap(pointer, rounded);
        },
        source.options());
#else
    (void)kHugePage;
    (void)kMinimumBytes;
    (void)bytes;
    return source;
#endif
}

namespace {

// The thread behind KeepWeightsWarm: touches pages while any KeepWeightsWarm lives, sleeps
// otherwise. Never destroyed, so the process's exit need not join it.
class WeightWarmer {
public:
    static WeightWarmer &shared()
    {
        static WeightWarmer *warmer = new WeightWarmer;
        return *warmer;
    }

    void adjustKeepers(int delta)
    {
        {
            std::lock_guard lock(m_mutex);
            m_keepers += delta;
        }
        m_wake.notify_all();
    }

private:
    WeightWarmer()
    {
        std::thread([this] { loop(); }).detach();
    }

    void loop()
    {
        const std::uint8_t *cursor = nullptr;
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_wake.wait(lock, [this] { return m_keepers > 0; });
            lock.unlock();
            cursor = touchPages(cursor, kWarmPagesPerRound);
            lock.lock();
            m_wake.wait_for(lock, kWarmPeriod, [this] { return m_keepers == 0; });
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_wake;
    int m_keepers = 0;
};

} // namespace

KeepWeightsWarm::KeepWeightsWarm()
{
    WeightWarmer::shared().adjustKeepers(+1);
}

KeepWeightsWarm::~KeepWeightsWarm()
{
    WeightWarmer::shared().adjustKeepers(-1);
}

} // namespace corolla
