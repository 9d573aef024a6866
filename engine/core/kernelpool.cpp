#include "core/kernelpool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#define COROLLA_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define COROLLA_CPU_RELAX() asm volatile("yield")
#else
#define COROLLA_CPU_RELAX() std::this_thread::yield()
#endif

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;

// How long a worker outside a burst keeps spinning after a loop before it sleeps: long enough
// to bridge the serial work between two loops of one step, short enough that an idle engine
// stops using the CPU at once.
constexpr auto kIdleSpin = std::chrono::microseconds(200);

constexpr std::uint64_t loopOf(std::uint64_t claim)
{
    return claim >> 32;
}

constexpr std::int64_t chunkOf(std::uint64_t claim)
{
    return std::int64_t(claim & 0xffffffffu);
}

// The chunk number of a loop whose fields are being written: past every loop's last chunk.
constexpr std::uint64_t kClosed = 0xffffffffu;

} // namespace

KernelPool::KernelPool(int threads)
{
    for (int worker = 1; worker < threads; ++worker)
        m_workers.emplace_back([this, worker] { workerLoop(worker); });
}

KernelPool::~KernelPool()
{
    m_stopping.store(true);
    signal();
    for (std::thread &worker : m_workers)
        worker.join();
}

KernelPool &KernelPool::shared(int threads)
{
    // Never destroyed: kernels may run from other static destructors, and a process that
    // exits does not need to join threads that sleep.
    static KernelPool *pool = new KernelPool(std::max(1, threads));
    return *pool;
}

void KernelPool::signal()
{
    m_signal.fetch_add(1);
    // A worker counts itself a sleeper before it checks m_signal for the last time (under
    // m_sleepMutex), so either it sees this bump or this sees it counted and wakes it.
    if (m_sleepers.load() > 0) {
        std::lock_guard lock(m_sleepMutex);
        m_sleepWake.notify_all();
    }
}

void KernelPool::run(std::int64_t n, std::int64_t grain, int maxThreads, Invoke invoke,
                     const void *context)
{
    if (n <= 0)
        return;
    grain = std::max<std::int64_t>(1, grain);
    const std::int64_t chunks = (n + grain - 1) / grain;
    std::unique_lock caller(m_caller, std::defer_lock);
    if (chunks == 1 || maxThreads <= 1 || m_workers.empty() || chunks >= std::int64_t(kClosed)
        || !caller.try_lock()) {
        invoke(context, 0, n);
        return;
    }
    // No worker holds a chunk of the previous loop: it finished before its caller returned. But
    // a worker may still hold that loop's final claim value ("all taken"), read before the
    // fields below change; were that value still current, its compare-and-swap would take a
    // chunk past the end with the new loop's fields (a range run twice, a loop that returns
    // early). The claim is closed first, so that swap fails; a worker that reads the closed
    // value finds no chunk left.
    const std::uint64_t loop = std::uint64_t(++m_loop) << 32;
    m_claim.store(loop | kClosed, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release); // orders the close before the fields
    m_invoke.store(invoke, std::memory_order_relaxed);
    m_context.store(context, std::memory_order_relaxed);
    m_n.store(n, std::memory_order_relaxed);
    m_grain.store(grain, std::memory_order_relaxed);
    m_chunks.store(chunks, std::memory_order_relaxed);
    m_maxThreads.store(maxThreads, std::memory_order_relaxed);
    m_done.store(0, std::memory_order_relaxed);
    m_claim.store(loop, std::memory_order_release);
    signal();

    runChunks(0);
    // Only chunks that workers have claimed and are running remain.
    while (m_done.load(std::memory_order_acquire) < chunks)
        COROLLA_CPU_RELAX();
    std::exception_ptr error;
    {
        std::lock_guard lock(m_errorMutex);
        std::swap(error, m_error);
    }
    if (error)
        std::rethrow_exception(error);
}

void KernelPool::runChunks(int worker)
{
    for (;;) {
        std::uint64_t claim = m_claim.load(std::memory_order_acquire);
        if (worker >= m_maxThreads.load(std::memory_order_relaxed))
            return;
        const Invoke invoke = m_invoke.load(std::memory_order_relaxed);
        const void *context = m_context.load(std::memory_order_relaxed);
        const std::int64_t n = m_n.load(std::memory_order_relaxed);
        const std::int64_t grain = m_grain.load(std::memory_order_relaxed);
        const std::int64_t chunk = chunkOf(claim);
        if (chunk >= m_chunks.load(std::memory_order_relaxed))
            return;
        // Pairs with the caller's fence: having read a field of a newer loop, the swap below
        // sees at least that loop's closed claim, and fails.
        std::atomic_thread_fence(std::memory_order_acquire);
        // Fails if another thread took this chunk or a newer loop replaced the fields above.
        if (!m_claim.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel))
            continue;
        const std::int64_t begin = chunk * grain;
        try {
            invoke(context, begin, std::min(n, begin + grain));
        } catch (...) {
            std::lock_guard lock(m_errorMutex);
            if (!m_error)
                m_error = std::current_exception();
        }
        m_done.fetch_add(1, std::memory_order_release);
    }
}

void KernelPool::workerLoop(int worker)
{
    // From the signal's first value: a worker that starts late still sees what came before.
    std::uint64_t seen = 0;
    for (;;) {
        Clock::time_point spinStart = Clock::now();
        int spins = 0;
        for (;;) {
            const std::uint64_t now = m_signal.load(std::memory_order_acquire);
            if (now != seen) {
                seen = now;
                break;
            }
            if (m_bursts.load(std::memory_order_relaxed) > 0) {
                COROLLA_CPU_RELAX();
                continue;
            }
            // Look at the clock every 64 spins only: reading it costs more than a pause.
            if (++spins % 64 == 0 && Clock::now() - spinStart > kIdleSpin) {
                std::unique_lock lock(m_sleepMutex);
                m_sleepers.fetch_add(1);
                m_sleepWake.wait(lock,
                                 [&] { return m_signal.load() != seen || m_stopping.load(); });
                m_sleepers.fetch_sub(1);
                if (m_stopping.load())
                    return;
                spinStart = Clock::now();
                continue;
            }
            COROLLA_CPU_RELAX();
        }
        if (m_stopping.load())
            return;
        runChunks(worker);
    }
}

KernelPool::Burst::Burst(KernelPool &pool)
    : m_pool(pool)
{
    m_pool.m_bursts.fetch_add(1);
    m_pool.signal(); // wakes sleeping workers while the step does its first serial work
}

KernelPool::Burst::~Burst()
{
    m_pool.m_bursts.fetch_sub(1);
}

} // namespace corolla
