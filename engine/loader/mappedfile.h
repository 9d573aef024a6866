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
#endif
};

} // namespace corolla
