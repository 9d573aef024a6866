#pragma once
// An exclusive lock on a file, shared with other processes, the same lock huggingface_hub
// takes (flock on the lock file; LockFileEx on Windows), so that two downloads of one blob —
// by Corolla or by Python — never write it at the same time.
// Thread: the thread that locked it releases it; one FileLock per holder.

#include <functional>
#include <stop_token>

#include <QString>

#include "core/result.h"

namespace corolla {

class FileLock {
public:
    FileLock() = default;
    ~FileLock();
    FileLock(FileLock &&other) noexcept;
    FileLock &operator=(FileLock &&other) noexcept;
    FileLock(const FileLock &) = delete;
    FileLock &operator=(const FileLock &) = delete;

    // Creates `path` (and its folder) if needed and waits until this process holds it, or
    // until `stop` is requested (a Cancelled error). `onWait` runs once if another holder
    // makes us wait.
    static Result<FileLock> acquire(const QString &path, const std::stop_token &stop,
                                    const std::function<void()> &onWait = {});

    bool isLocked() const { return m_handle != kNoHandle; }
    void release();

private:
    static constexpr long long kNoHandle = -1;
    long long m_handle = kNoHandle;
};

} // namespace corolla
