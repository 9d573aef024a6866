#include "loader/checkpoint.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/textfile.h"

namespace corolla {

namespace fs = std::filesystem;

namespace {

constexpr const char *kIndexFile = "model.safetensors.index.json";
constexpr const char *kSingleFile = "model.safetensors";

} // namespace

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string &directory)
{
    std::unique_ptr<Checkpoint> checkpoint(new Checkpoint);
    checkpoint->m_directory = directory;
    const fs::path folder(directory);
    std::error_code ignored;
    if (!fs::is_directory(folder, ignored))
        return makeError(ErrorCode::NotFound, directory + ": not a directory");

    const fs::path indexPath = folder / kIndexFile;
    if (fs::exists(indexPath, ignored)) {
        auto text = readTextFile(indexPath.string());
        if (!text)
            return text.error();
        const auto index = nlohmann::json::parse(*text, nullptr, false);
        if (index.is_discarded() || !index.is_object())
            return makeError(ErrorCode::Format, indexPath.string() + ": not a JSON object");
        const auto map = index.find("weight_map");
        if (map == index.end() || !map->is_object())
            return makeError(ErrorCode::Format, indexPath.string() + ": no 'weight_map' object");
        for (const auto &[tensor, file] : map->items()) {
            const std::string fileName = file.is_string() ? file.get<std::string>() : "";
            // Shards must live in the folder itself: no paths, no escaping it.
            if (fileName.empty() || fileName.find('/') != std::string::npos
                || fileName.find('\\') != std::string::npos || fileName == "..")
                return makeError(ErrorCode::Format, indexPath.string() + ": tensor '" + tensor
                                                        + "' names an invalid shard file");
            checkpoint->m_fileOfTensor[tensor] = fileName;
        }
        return checkpoint;
    }

    if (!fs::exists(folder / kSingleFile, ignored)) {
        std::string hint = fs::exists(folder / "pytorch_model.bin", ignored)
                               ? " (it has pytorch_model.bin; convert it to safetensors first)"
                               : "";
        return makeError(ErrorCode::NotFound,
                         directory + ": no " + kSingleFile + " and no " + kIndexFile + hint);
    }
    auto single = checkpoint->shard(kSingleFile);
    if (!single)
        return single.error();
    for (const TensorInfo &info : (*single)->tensors())
        checkpoint->m_fileOfTensor[info.name] = kSingleFile;
    return checkpoint;
}

Result<SafetensorsFile *> Checkpoint::shard(const std::string &fileName) const
{
    std::lock_guard lock(m_shardMutex);
    auto &slot = m_shards[fileName];
    if (!slot) {
        auto opened = SafetensorsFile::open((fs::path(m_directory) / fileName).string());
        if (!opened) {
            m_shards.erase(fileName);
            return opened.error();
        }
        slot = std::move(opened).value();
    }
    return slot.get();
}

std::vector<std::string> Checkpoint::tensorNames() const
{
    std::vector<std::string> names;
    for (const auto &entry : m_fileOfTensor)
        names.push_back(entry.first);
    return names;
}

bool Checkpoint::contains(const std::string &name) const
{
    return m_fileOfTensor.count(name) > 0;
}

Result<at::Tensor> Checkpoint::read(const std::string &name) const
{
    const auto it = m_fileOfTensor.find(name);
    if (it == m_fileOfTensor.end())
        return makeError(ErrorCode::NotFound,
                         m_directory + ": the checkpoint has no tensor '" + name + "'");
    auto file = shard(it->second);
    if (!file)
        return file.error();
    if (!(*file)->find(name))
        return makeError(ErrorCode::Format, (*file)->path() + ": the index lists tensor '" + name
                                                + "' here, but the file does not hold it");
    return (*file)->read(name);
}

std::set<std::string> Checkpoint::touchedTensors() const
{
    std::lock_guard lock(m_shardMutex);
    std::set<std::string> touched;
    for (const auto &entry : m_shards)
        touched.merge(entry.second->touchedTensors());
    return touched;
}

std::set<std::string> Checkpoint::openedFiles() const
{
    std::lock_guard lock(m_shardMutex);
    std::set<std::string> files;
    for (const auto &entry : m_shards)
        files.insert(entry.first);
    return files;
}

} // namespace corolla
