#include "loader/safetensorswriter.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace corolla {

namespace fs = std::filesystem;

namespace {

Result<const char *> dtypeName(const at::Tensor &tensor)
{
    switch (tensor.scalar_type()) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    default:
        return makeError(ErrorCode::Unsupported, "only F32, F16 and BF16 tensors can be written");
    }
}

} // namespace

Result<void> writeSafetensors(const std::string &path,
                              const std::map<std::string, at::Tensor> &tensors,
                              const std::map<std::string, std::string> &metadata)
{
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::vector<at::Tensor> contiguous;
    std::uint64_t offset = 0;
    for (const auto &[name, tensor] : tensors) {
        auto dtype = dtypeName(tensor);
        if (!dtype)
            return makeError(ErrorCode::Unsupported,
                             path + ": tensor '" + name + "': " + dtype.error().message);
        contiguous.push_back(tensor.contiguous());
        const std::uint64_t bytes = contiguous.back().nbytes();
        header[name] = {{"dtype", *dtype},
                        {"shape", tensor.sizes().vec()},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string headerText = header.dump();
    headerText.append((8 - headerText.size() % 8) % 8, ' '); // keeps the data 8-byte aligned

    const std::string temporary = path + ".partial";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out)
            return makeError(ErrorCode::Io, temporary + ": cannot create the file");
        unsigned char sizeBytes[8];
        std::uint64_t size = headerText.size();
        for (unsigned char &byte : sizeBytes) {
            byte = static_cast<unsigned char>(size & 0xff);
            size >>= 8;
        }
        out.write(reinterpret_cast<const char *>(sizeBytes), 8);
        out.write(headerText.data(), std::streamsize(headerText.size()));
        for (const at::Tensor &tensor : contiguous)
            out.write(static_cast<const char *>(tensor.data_ptr()),
                      std::streamsize(tensor.nbytes()));
        if (!out.flush())
            return makeError(ErrorCode::Io, temporary + ": write failed (disk full?)");
    }
    std::error_code error;
    fs::rename(temporary, path, error);
    if (error)
        return makeError(ErrorCode::Io,
                         path + ": cannot move the finished file into place: " + error.message());
    return {};
}

Result<void> writeCheckpointWeights(const std::string &directory,
                                    const std::map<std::string, at::Tensor> &tensors, int shards)
{
    if (shards < 1)
        return makeError(ErrorCode::InvalidArgument, "the number of shards must be at least 1");
    if (shards == 1)
        return writeSafetensors((fs::path(directory) / "model.safetensors").string(), tensors);

    std::uint64_t totalBytes = 0;
    for (const auto &entry : tensors)
        totalBytes += entry.second.nbytes();
    const std::uint64_t target = (totalBytes + std::uint64_t(shards) - 1) / std::uint64_t(shards);

    std::vector<std::map<std::string, at::Tensor>> parts(static_cast<std::size_t>(shards));
    std::size_t part = 0;
    std::uint64_t filled = 0;
    for (const auto &[name, tensor] : tensors) {
        if (filled >= target && part + 1 < parts.size()) {
            ++part;
            filled = 0;
        }
        parts[part].emplace(name, tensor);
        filled += tensor.nbytes();
    }

    nlohmann::json weightMap = nlohmann::json::object();
    for (std::size_t i = 0; i < parts.size(); ++i) {
        char fileName[64];
        std::snprintf(fileName, sizeof fileName, "model-%05zu-of-%05d.safetensors", i + 1, shards);
        if (auto written = writeSafetensors((fs::path(directory) / fileName).string(), parts[i]);
            !written)
            return written;
        for (const auto &entry : parts[i])
            weightMap[entry.first] = fileName;
    }
    const nlohmann::json index = {{"metadata", {{"total_size", totalBytes}}},
                                  {"weight_map", weightMap}};
    std::ofstream out(fs::path(directory) / "model.safetensors.index.json", std::ios::trunc);
    out << index.dump(2) << '\n';
    if (!out.flush())
        return makeError(ErrorCode::Io, directory + ": cannot write model.safetensors.index.json");
    return {};
}

} // namespace corolla
