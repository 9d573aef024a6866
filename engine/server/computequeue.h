#pragma once
// The one thread that runs torch work for a server, so the engine thread's sockets stay
// responsive while blocks compute. Jobs run by priority (inference steps before forward,
// forward before backward), first come first served within a priority.
// Thread: post() from any thread; jobs run on the queue's thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>

namespace corolla {

class ComputeQueue {
public:
    enum class Priority { Inference = 0, Forward = 1, Backward = 2, Background = 3 };

    // `threads`: intra-op threads for torch on this thread (0: keep the default).
    explicit ComputeQueue(int threads = 0);
    // Finishes the running job and drops the rest.
    ~ComputeQueue();

    ComputeQueue(const ComputeQueue &) = delete;
    ComputeQueue &operator=(const ComputeQueue &) = delete;

    void post(Priority priority, std::function<void()> job);
    std::size_t pending() const;

private:
    struct Job {
        int priority;
        std::uint64_t sequence;
        std::function<void()> run;
        bool operator<(const Job &other) const
        {
            // std::priority_queue pops the largest: lower priority value, then older first.
            return priority != other.priority ? priority > other.priority
                                              : sequence > other.sequence;
        }
    };

    void loop(int threads);

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::priority_queue<Job> m_jobs;
    std::uint64_t m_sequence = 0;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace corolla
