#include "hub/filelock.h"

#include <chrono>
#include <functional>
#include <thread>
#include <utility>

#include <QDir>
#include <QFile>
#include <QFileInfo>

#ifdef Q_OS_WIN
#include <windows.h>
#else
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#endif

namespace corolla {

namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

} // namespace

FileLock::~FileLock()
{
    release();
}

FileLock::FileLock(FileLock &&other) noexcept
    : m_handle(std::exchange(other.m_handle, kNoHandle))
{
}

FileLock &FileLock::operator=(FileLock &&other) noexcept
{
    if (this != &other) {
        release();
        m_handle = std::exchange(other.m_handle, kNoHandle);
    }
    return *this;
}

void FileLock::release()
{
    if (m_handle == kNoHandle)
        return;
#ifdef Q_OS_WIN
    HANDLE handle = reinterpret_cast<HANDLE>(m_handle);
    OVERLAPPED overlapped = {};
    UnlockFileEx(handle, 0, MAXDWORD, MAXDWORD, &overlapped);
    CloseHandle(handle);
#else
    ::flock(int(m_handle), LOCK_UN);
    ::close(int(m_handle));
#endif
    m_handle = kNoHandle;
}

Result<FileLock> FileLock::acquire(const QString &path, const std::stop_token &stop,
                                   const std::function<void()> &onWait)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    FileLock lock;
#ifdef Q_OS_WIN
    HANDLE handle = CreateFileW(reinterpret_cast<const wchar_t *>(path.utf16()),
                                GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (handle == INVALID_HANDLE_VALUE)
        return makeError(ErrorCode::Io, path.toStdString() + ": cannot open the lock file");
    lock.m_handle = reinterpret_cast<long long>(handle);
#else
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return makeError(ErrorCode::Io, path.toStdString() + ": cannot open the lock file: "
                                            + std::strerror(errno));
    lock.m_handle = fd;
#endif
    bool waited = false;
    for (;;) {
#ifdef Q_OS_WIN
        OVERLAPPED overlapped = {};
        if (LockFileEx(handle, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, MAXDWORD,
                       MAXDWORD, &overlapped))
            return lock;
#else
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
            return lock;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return makeError(ErrorCode::Io,
                             path.toStdString() + ": cannot lock it: " + std::strerror(errno));
#endif
        if (stop.stop_requested())
            return makeError(ErrorCode::Cancelled,
                             "cancelled while waiting for " + path.toStdString());
        if (!waited && onWait)
            onWait();
        waited = true;
        std::this_thread::sleep_for(kPollInterval);
    }
}

} // namespace corolla
