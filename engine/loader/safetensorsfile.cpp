#include "loader/safetensorsfile.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

#include <ATen/ops/empty.h>
#include <nlohmann/json.hpp>

namespace corolla {

namespace {

// a * b into *product; false when it does not fit in 64 bits.
bool multiplyChecked(std::uint64_t a, std::uint64_t b, std::uint64_t *product)
{
    if (b != 0 && a > UINT64_MAX / b)
        return false;
    *product = a * b;
    return true;
}

// Headers of real checkpoints are a few hundred kilobytes; the reference implementation
// refuses anything above 100 MB, and so do we, before allocating anything.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct TypeEntry {
    const char *name;
    StorageType type;
    std::uint64_t bytes;
};

constexpr TypeEntry kTypes[] = {
    {"F32", StorageType::F32, 4},        {"F16", StorageType::F16, 2},
    {"BF16", StorageType::BF16, 2},      {"F64", StorageType::F64, 8},
    {"I64", StorageType::I64, 8},        {"I32", StorageType::I32, 4},
    {"I16", StorageType::I16, 2},        {"I8", StorageType::I8, 1},
    {"U8", StorageType::U8, 1},          {"BOOL", StorageType::Bool, 1},
    {"F8_E4M3", StorageType::F8E4M3, 1}, {"F8_E5M2", StorageType::F8E5M2, 1},
};

std::optional<TypeEntry> typeByName(const std::string &name)
{
    for (const TypeEntry &entry : kTypes) {
        if (name == entry.name)
            return entry;
    }
    return std::nullopt;
}

std::uint64_t bytesOf(StorageType type)
{
    for (const TypeEntry &entry : kTypes) {
        if (entry.type == type)
            return entry.bytes;
    }
    return 0;
}

} // namespace

const char *storageTypeName(StorageType type)
{
    for (const TypeEntry &entry : kTypes) {
        if (entry.type == type)
            return entry.name;
    }
    return "?";
}

Result<at::ScalarType> scalarTypeOf(StorageType type)
{
    switch (type) {
    case StorageType::F32: return at::kFloat;
    case StorageType::F16: return at::kHalf;
    case StorageType::BF16: return at::kBFloat16;
    default:
        return makeError(ErrorCode::Unsupported,
                         std::string("dtype ") + storageTypeName(type)
                             + " is not supported for weights (use F32, F16 or BF16)");
    }
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string &path)
{
    auto mapped = MappedFile::open(path);
    if (!mapped)
        return mapped.error();
    std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(std::move(mapped).value()));
    if (auto parsed = file->parseHeader(); !parsed)
        return parsed.error();
    return file;
}

Result<void> SafetensorsFile::parseHeader()
{
    const std::string &path = m_file.path();
    auto formatError = [&](const std::string &what) {
        return makeError(ErrorCode::Format, path + ": " + what);
    };
    const std::uint64_t fileSize = m_file.size();
    if (fileSize < 8)
        return formatError("file is too short for a safetensors header (" + std::to_string(fileSize)
                           + " bytes)");
    std::uint64_t headerSize = 0;
    for (int i = 7; i >= 0; --i)
        headerSize = (headerSize << 8) | m_file.data()[i];
    if (headerSize > kMaxHeaderBytes)
        return formatError("header size " + std::to_string(headerSize)
                           + " bytes exceeds the limit of " + std::to_string(kMaxHeaderBytes));
    if (headerSize > fileSize - 8)
        return formatError("header size " + std::to_string(headerSize)
                           + " bytes is larger than the file (" + std::to_string(fileSize)
                           + " bytes)");

    const char *headerBegin = reinterpret_cast<const char *>(m_file.data() + 8);
    const nlohmann::json header =
        nlohmann::json::parse(headerBegin, headerBegin + headerSize, nullptr, false);
    if (header.is_discarded())
        return formatError("header is not valid JSON");
    if (!header.is_object())
        return formatError("header is not a JSON object");

    const std::uint64_t dataStart = 8 + headerSize;
    const std::uint64_t dataSize = fileSize - dataStart;
    for (const auto &[name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object())
                return formatError("__metadata__ is not an object");
            for (const auto &[key, value] : entry.items()) {
                if (!value.is_string())
                    return formatError("__metadata__ value of '" + key + "' is not a string");
                m_metadata[key] = value.get<std::string>();
            }
            continue;
        }
        auto tensorError = [&](const std::string &what) {
            return formatError("tensor '" + name + "': " + what);
        };
        if (!entry.is_object())
            return tensorError("entry is not an object");
        const auto dtype = entry.find("dtype");
        const auto shape = entry.find("shape");
        const auto offsets = entry.find("data_offsets");
        if (dtype == entry.end() || !dtype->is_string())
            return tensorError("missing or non-string 'dtype'");
        if (shape == entry.end() || !shape->is_array())
            return tensorError("missing or non-array 'shape'");
        if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2)
            return tensorError("'data_offsets' must be an array of two integers");

        const auto type = typeByName(dtype->get<std::string>());
        if (!type)
            return tensorError("unknown dtype '" + dtype->get<std::string>() + "'");

        TensorInfo info;
        info.name = name;
        info.type = type->type;
        std::uint64_t elements = 1;
        for (const auto &dim : *shape) {
            if (!dim.is_number_unsigned())
                return tensorError("shape entries must be non-negative integers");
            const std::uint64_t size = dim.get<std::uint64_t>();
            if (size > std::uint64_t(INT64_MAX) || !multiplyChecked(elements, size, &elements))
                return tensorError("shape is too large");
            info.shape.push_back(std::int64_t(size));
        }
        std::uint64_t expectedBytes = 0;
        if (!multiplyChecked(elements, type->bytes, &expectedBytes))
            return tensorError("shape is too large");

        for (const auto &offset : *offsets) {
            if (!offset.is_number_unsigned())
                return tensorError("'data_offsets' must be non-negative integers");
        }
        const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>();
        const std::uint64_t end = (*offsets)[1].get<std::uint64_t>();
        if (begin > end)
            return tensorError("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end)
                               + "] are reversed");
        if (end > dataSize)
            return tensorError("data_offsets end " + std::to_string(end)
                               + " lies past the end of the data (" + std::to_string(dataSize)
                               + " bytes); the file may be truncated");
        if (end - begin != expectedBytes)
            return tensorError("shape and dtype need " + std::to_string(expectedBytes)
                               + " bytes but data_offsets span " + std::to_string(end - begin));
        info.dataBegin = dataStart + begin;
        info.dataEnd = dataStart + end;
        m_tensors.push_back(std::move(info));
    }

    std::vector<const TensorInfo *> byOffset;
    for (const TensorInfo &info : m_tensors)
        byOffset.push_back(&info);
    std::sort(byOffset.begin(), byOffset.end(),
              [](const TensorInfo *a, const TensorInfo *b) { return a->dataBegin < b->dataBegin; });
    for (std::size_t i = 1; i < byOffset.size(); ++i) {
        if (byOffset[i]->dataBegin < byOffset[i - 1]->dataEnd)
            return formatError("tensors '" + byOffset[i - 1]->name + "' and '" + byOffset[i]->name
                               + "' overlap");
    }
    for (std::size_t i = 0; i < m_tensors.size(); ++i)
        m_index[m_tensors[i].name] = i;
    return {};
}

const TensorInfo *SafetensorsFile::find(const std::string &name) const
{
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

Result<at::Tensor> SafetensorsFile::read(const std::string &name) const
{
    const TensorInfo *info = find(name);
    if (!info)
        return makeError(ErrorCode::NotFound, path() + ": no tensor '" + name + "'");
    auto scalarType = scalarTypeOf(info->type);
    if (!scalarType)
        return makeError(scalarType.error().code,
                         path() + ": tensor '" + name + "': " + scalarType.error().message);
    at::Tensor tensor = at::empty(info->shape, at::TensorOptions().dtype(*scalarType));
    const std::uint64_t bytes = info->dataEnd - info->dataBegin;
    if (bytes != std::uint64_t(tensor.nbytes()) || bytes != bytesOf(info->type) * tensor.numel())
        return makeError(ErrorCode::Internal, path() + ": tensor '" + name + "': size mismatch");
    if (bytes > 0) {
        std::memcpy(tensor.data_ptr(), m_file.data() + info->dataBegin, bytes);
        m_file.releasePages(info->dataBegin, info->dataEnd);
    }
    {
        std::lock_guard lock(m_touchedMutex);
        m_touched.insert(name);
    }
    return tensor;
}

std::set<std::string> SafetensorsFile::touchedTensors() const
{
    std::lock_guard lock(m_touchedMutex);
    return m_touched;
}

} // namespace corolla
