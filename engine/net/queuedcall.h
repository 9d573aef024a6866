#pragma once
// The one way our code hands work to another thread's event loop: a queued call on the
// receiver. Qt runs the work after everything the caller did before the call, through locks
// inside QtCore; under ThreadSanitizer, which cannot see into an uninstrumented QtCore, the
// hand-off also says so explicitly (both ways: the caller may destroy the work after the
// receiver ran it), so that the sanitizer checks our code rather than Qt's event queue.
// Thread: any; the work runs on the receiver's thread.

#include <memory>
#include <utility>

#include <QMetaObject>
#include <QObject>
#include <QThread>

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void *address);
extern "C" void __tsan_release(void *address);
#endif

namespace corolla {

#if defined(__SANITIZE_THREAD__)
namespace detail {

// The work with the sanitizer's view of Qt's hand-off: released towards the receiver's
// thread when Qt moves it into the queued event (the last thing the caller does to it), and
// back again once it has run there, for whichever thread destroys it.
template <typename Work> struct AnnotatedWork {
    Work work;
    QThread *receiverThread;
    std::unique_ptr<char> ranToken = std::make_unique<char>();

    AnnotatedWork(Work &&w, QThread *thread)
        : work(std::move(w))
        , receiverThread(thread)
    {
    }
    AnnotatedWork(AnnotatedWork &&other) noexcept
        : work(std::move(other.work))
        , receiverThread(other.receiverThread)
        , ranToken(std::move(other.ranToken))
    {
        __tsan_release(receiverThread);
    }
    ~AnnotatedWork()
    {
        if (ranToken)
            __tsan_acquire(ranToken.get());
    }

    void operator()()
    {
        __tsan_acquire(QThread::currentThread());
        work();
        __tsan_release(ranToken.get());
    }
};

} // namespace detail
#endif

// For hand-offs that Qt makes through something else than a queued call (a thread's end seen
// through QThread::wait(), say): what one thread did before handOver(token) happened, for
// ThreadSanitizer, before what another does after takeOver(token). No code outside it.
inline void handOver([[maybe_unused]] void *token)
{
#if defined(__SANITIZE_THREAD__)
    __tsan_release(token);
#endif
}

inline void takeOver([[maybe_unused]] void *token)
{
#if defined(__SANITIZE_THREAD__)
    __tsan_acquire(token);
#endif
}

// Runs `work` on `receiver`'s thread, after what was queued to it before; never waits.
// False when the receiver has no event loop to run it.
template <typename Work> bool postTo(QObject *receiver, Work work)
{
#if defined(__SANITIZE_THREAD__)
    return QMetaObject::invokeMethod(
        receiver, detail::AnnotatedWork<Work>(std::move(work), receiver->thread()),
        Qt::QueuedConnection);
#else
    return QMetaObject::invokeMethod(receiver, std::move(work), Qt::QueuedConnection);
#endif
}

} // namespace corolla
