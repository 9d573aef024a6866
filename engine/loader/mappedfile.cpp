#include "loader/mappedfile.h"

#include <cerrno>
#include <cstring>
#include <utility>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace corolla {

MappedFile::MappedFile(MappedFile &&other) noexcept
{
    *this = std::move(other);
}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept
{
    if (this != &other) {
        release();
        m_path = std::move(other.m_path);
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
#ifdef _WIN32
        m_fileHandle = std::exchange(other.m_fileHandle, nullptr);
        m_mappingHandle = std::exchange(other.m_mappingHandle, nullptr);
#else
        m_fd = std::exchange(other.m_fd, -1);
#endif
    }
    return *this;
}

MappedFile::~MappedFile()
{
    release();
}

#ifdef _WIN32

Result<MappedFile> MappedFile::open(const std::string &path)
{
    MappedFile file;
    file.m_path = path;
    HANDLE handle = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                                FILE_ATTRIBUTE_NORMAL, nullptr);
    if (handle == INVALID_HANDLE_VALUE)
        return makeError(ErrorCode::Io, path + ": cannot open the file");
    file.m_fileHandle = handle;
    LARGE_INTEGER size;
    if (!GetFileSizeEx(handle, &size))
        return makeError(ErrorCode::Io, path + ": cannot read the file size");
    file.m_size = std::size_t(size.QuadPart);
    if (file.m_size == 0)
        return file;
    HANDLE mapping = CreateFileMappingA(handle, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (!mapping)
        return makeError(ErrorCode::Io, path + ": cannot map the file");
    file.m_mappingHandle = mapping;
    void *view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
    if (!view)
        return makeError(ErrorCode::Io, path + ": cannot map the file");
    file.m_data = static_cast<const std::uint8_t *>(view);
    return file;
}

void MappedFile::releasePages(std::size_t, std::size_t) const {}

void MappedFile::release()
{
    if (m_data)
        UnmapViewOfFile(m_data);
    if (m_mappingHandle)
        CloseHandle(m_mappingHandle);
    if (m_fileHandle)
        CloseHandle(m_fileHandle);
    m_data = nullptr;
    m_mappingHandle = m_fileHandle = nullptr;
    m_size = 0;
}

#else

Result<MappedFile> MappedFile::open(const std::string &path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return makeError(ErrorCode::Io, path + ": cannot open the file: " + std::strerror(errno));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        ::close(fd);
        return makeError(ErrorCode::Io, path + ": not a regular file");
    }
    MappedFile file;
    file.m_path = path;
    file.m_size = std::size_t(info.st_size);
    if (file.m_size > 0) {
        void *address = ::mmap(nullptr, file.m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (address == MAP_FAILED) {
            const int mapError = errno;
            ::close(fd);
            file.m_fd = -1;
            return makeError(ErrorCode::Io,
                             path + ": cannot map the file: " + std::strerror(mapError));
        }
        file.m_data = static_cast<const std::uint8_t *>(address);
    }
    file.m_fd = fd; // kept for releasePages()
    return file;
}

void MappedFile::releasePages(std::size_t begin, std::size_t end) const
{
    if (m_fd < 0 || begin >= end || end > m_size)
        return;
    // Whole pages strictly inside the range: a neighbouring tensor may share the edge pages.
    const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
    const std::size_t first = (begin + page - 1) / page * page;
    const std::size_t last = end / page * page;
    if (first >= last)
        return;
    ::madvise(const_cast<std::uint8_t *>(m_data) + first, last - first, MADV_DONTNEED);
    ::posix_fadvise(m_fd, off_t(first), off_t(last - first), POSIX_FADV_DONTNEED);
}

void MappedFile::release()
{
    if (m_data)
        ::munmap(const_cast<std::uint8_t *>(m_data), m_size);
    if (m_fd >= 0)
        ::close(m_fd);
    m_data = nullptr;
    m_size = 0;
    m_fd = -1;
}

#endif

} // namespace corolla
