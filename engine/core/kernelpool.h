#pragma once
// The threads that the engine's own decode kernels (matrix-vector products, decode
// attention) fan out over.
//
// Why not OpenMP: a server computes one step, then idles until the next token comes back
// around the swarm (tens to hundreds of milliseconds). OpenMP splits a loop statically, so
// a pool thread that wakes late — after a sleep, on a busy or halted core — holds up the
// whole loop, and libgomp lets its threads fall asleep between the loops of one step as soon
// as its spin count runs out. Measured on a 2-core virtual machine: a 7-block server step of
// 12 ms back to back took 40 ms (median) when the server idled 170 ms between steps.
//
// This pool differs in two ways:
// - Loops are cut into chunks that the threads claim one at a time, and the caller takes part:
//   a thread that is late finds less or nothing left to do, and nobody waits for it to arrive.
// - A Burst (one per step) keeps the threads spinning between the loops of that step, and wakes
//   sleeping threads at its start, while the step does its first serial work. Outside a burst,
//   threads spin briefly after a loop, then sleep, so an idle engine costs no CPU.
//
// Thread: any. One loop runs on the pool at a time; a loop started while another runs (or
// from inside a task) runs on its caller's thread alone. If tasks throw, the loop still
// completes its other chunks and the first exception is rethrown to the caller.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace corolla {

class KernelPool {
public:
    // `threads` counts the caller: threads - 1 workers are started (none for threads <= 1).
    explicit KernelPool(int threads);
    ~KernelPool();
    KernelPool(const KernelPool &) = delete;
    KernelPool &operator=(const KernelPool &) = delete;

    // The pool of this process, made on first use with `threads` (later values are ignored).
    static KernelPool &shared(int threads);

    int threads() const { return int(m_workers.size()) + 1; }

    // Calls task(begin, end) for ranges covering [0, n) once, on the caller and up to
    // maxThreads - 1 workers; returns when all have run. Split loops get ranges of `grain`
    // (the last one shorter); a loop that runs on the caller alone gets [0, n) in one call.
    template <typename Task>
    void parallelFor(std::int64_t n, std::int64_t grain, int maxThreads, const Task &task)
    {
        run(
            n, grain, maxThreads,
            [](const void *context, std::int64_t begin, std::int64_t end) {
                (*static_cast<const Task *>(context))(begin, end);
            },
            &task);
    }

    // While one lives, the workers wait for loops spinning instead of sleeping.
    class Burst {
    public:
        explicit Burst(KernelPool &pool);
        ~Burst();
        Burst(const Burst &) = delete;
        Burst &operator=(const Burst &) = delete;

    private:
        KernelPool &m_pool;
    };

private:
    using Invoke = void (*)(const void *context, std::int64_t begin, std::int64_t end);

    void run(std::int64_t n, std::int64_t grain, int maxThreads, Invoke invoke,
             const void *context);
    // Claims and runs chunks of the current loop until none is left; `worker` is 0 for the caller.
    void runChunks(int worker);
    void workerLoop(int worker);
    void signal();

    // The current loop. Written by the caller (holding m_caller) between closing m_claim and
    // publishing the loop through it; read by workers, who only run a chunk they claimed with
    // a compare-and-swap on m_claim, which fails if m_claim was closed or another loop
    // published since they read these.
    std::atomic<Invoke> m_invoke{nullptr};
    std::atomic<const void *> m_context{nullptr};
    std::atomic<std::int64_t> m_n{0}, m_grain{1}, m_chunks{0};
    std::atomic<int> m_maxThreads{1};
    // (loop number << 32) | next chunk to claim.
    alignas(64) std::atomic<std::uint64_t> m_claim{0};
    alignas(64) std::atomic<std::int64_t> m_done{0};
    std::uint32_t m_loop = 0; // the caller's count of loops, under m_caller

    // Bumped for every new loop, every burst start and the stop: what workers wait on.
    alignas(64) std::atomic<std::uint64_t> m_signal{0};
    std::atomic<int> m_sleepers{0};
    std::mutex m_sleepMutex;
    std::condition_variable m_sleepWake;
    std::atomic<int> m_bursts{0};
    std::atomic<bool> m_stopping{false};

    std::mutex m_errorMutex;
    std::exception_ptr m_error; // the loop's first exception, under m_errorMutex

    std::mutex m_caller;
    std::vector<std::thread> m_workers;
};

} // namespace corolla
