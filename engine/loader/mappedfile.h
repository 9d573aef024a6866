#pragma once
// A read-only memory map of a whole file; the bytes stay valid while the object lives.
// Thread: any; reading is thread-safe, moving is not.

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/result.h"

namespace corolla {

class MappedFile {
public:
    MappedFile() = default;
    MappedFile(MappedFile &&other) noexcept;
    MappedFile &operator=(MappedFile &&other) noexcept;
    MappedFile(const MappedFile &) = delete;
    MappedFile &operator=(const MappedFile &) = delete;
    ~MappedFile();

    // Maps `path` read-only; an empty file maps to size() == 0.
    static Result<MappedFile> open(const std::string &path);

    // Tells the system that bytes [begin, end) will not be read again through this map, so
    // their page-cache copy can go: the engine copies weights into memory it owns, and a
    // second copy of a checkpoint in the cache only competes for memory. A hint; no effect
    // where the system has none.
    void releasePages(std::size_t begin, std::size_t end) const;

    const std::uint8_t *data() const { return m_data; }
    std::size_t size() const { return m_size; }
    const std::string &path() const { return m_path; }

private:
    void release();

    std::string m_path;
    const std::uint8_t *m_data = nullptr;
    std::size_t m_size = 0;
#ifdef _WIN32
    void *m_fileHandle = nullptr;
    void *m_mappingHandle = nullptr;
#else
    int m_fd = -1;
#endif
};

} // namespace corolla
