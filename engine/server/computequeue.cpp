#include "server/computequeue.h"

#include <ATen/Parallel.h>

namespace corolla {

ComputeQueue::ComputeQueue(int threads)
{
    if (threads <= 0)
        threads = at::get_num_threads();
    m_thread = std::thread([this, threads] { loop(threads); });
}

ComputeQueue::~ComputeQueue()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    m_thread.join();
}

void ComputeQueue::post(Priority priority, std::function<void()> job)
{
    {
        std::lock_guard lock(m_mutex);
        m_jobs.push(Job{int(priority), m_sequence++, std::move(job)});
    }
    m_wake.notify_one();
}

std::size_t ComputeQueue::pending() const
{
    std::lock_guard lock(m_mutex);
    return m_jobs.size();
}

void ComputeQueue::loop(int threads)
{
    // OpenMP's thread count is per calling thread: set it here, not only in main().
    at::set_num_threads(threads);
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stopping || !m_jobs.empty(); });
            if (m_stopping)
                return;
            job = std::move(const_cast<Job &>(m_jobs.top()).run);
            m_jobs.pop();
        }
        job();
    }
}

} // namespace corolla
