#pragma once
// One .safetensors file: a validated header and memory-mapped tensor data, read per tensor.
// Thread: any; read() may be called from several threads at once.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "loader/mappedfile.h"

namespace corolla {

// The element types of the safetensors format. Only F32, F16 and BF16 can be read into
// tensors; the others are recognised so that the error can say what the file holds.
enum class StorageType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool, F8E4M3, F8E5M2 };

struct TensorInfo {
    std::string name;
    StorageType type = StorageType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t dataBegin = 0; // absolute byte offsets in the file, [dataBegin, dataEnd)
    std::uint64_t dataEnd = 0;
};

class SafetensorsFile {
public:
    // Maps the file and validates the whole header: JSON syntax, dtypes, shapes against byte
    // counts, offsets inside the data area and not overlapping. Reads no tensor data.
    static Result<std::unique_ptr<SafetensorsFile>> open(const std::string &path);

    const std::string &path() const { return m_file.path(); }
    const std::vector<TensorInfo> &tensors() const { return m_tensors; }
    const std::map<std::string, std::string> &metadata() const { return m_metadata; }
    // nullptr when the file has no tensor of that name.
    const TensorInfo *find(const std::string &name) const;

    // Copies one tensor out of the map into memory the caller owns, in its stored dtype.
    Result<at::Tensor> read(const std::string &name) const;

    // Names of the tensors whose bytes read() has copied so far.
    std::set<std::string> touchedTensors() const;

private:
    explicit SafetensorsFile(MappedFile file)
        : m_file(std::move(file))
    {
    }
    Result<void> parseHeader();

    MappedFile m_file;
    std::vector<TensorInfo> m_tensors;
    std::map<std::string, std::size_t> m_index;
    std::map<std::string, std::string> m_metadata;
    mutable std::mutex m_touchedMutex;
    mutable std::set<std::string> m_touched;
};

// "F32", "BF16", ...
const char *storageTypeName(StorageType type);
// The libtorch scalar type of a storage type; an error for types we do not compute with.
Result<at::ScalarType> scalarTypeOf(StorageType type);

} // namespace corolla
