#include "swarm/modelidentity.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <nlohmann/json.hpp>

#include "hub/hubdownloader.h"
#include "hub/hubmanifest.h"

namespace corolla {

namespace {

// The identity's own version: a change in what is hashed must change every id.
constexpr char kIdentityVersion[] = "corolla model identity 2\n";
constexpr char kHubIdentityVersion[] = "corolla model identity of a Hub snapshot 1\n";
constexpr qint64 kSampleBytes = 4096;
constexpr std::uint64_t kMaxHeaderBytes = 100 * 1024 * 1024; // as the loader allows

Error fileError(const QString &path, const std::string &why)
{
    return makeError(ErrorCode::Format, path.toStdString() + ": " + why);
}

void addField(QCryptographicHash &hash, const QByteArray &bytes)
{
    const quint64 size = quint64(bytes.size());
    hash.addData(QByteArrayView(reinterpret_cast<const char *>(&size), sizeof size));
    hash.addData(bytes);
}

// The weight files of the checkpoint in `folder`, sorted: the index's shards, or the one file.
Result<std::vector<QString>> weightFiles(const QDir &folder)
{
    const QString indexPath = folder.filePath(QStringLiteral("model.safetensors.index.json"));
    if (!QFile::exists(indexPath)) {
        if (!QFile::exists(folder.filePath(QStringLiteral("model.safetensors"))))
            return makeError(ErrorCode::NotFound,
                             folder.path().toStdString()
                                 + ": no model.safetensors or model.safetensors.index.json");
        return std::vector<QString>{QStringLiteral("model.safetensors")};
    }
    QFile index(indexPath);
    if (!index.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::NotFound, indexPath.toStdString() + ": cannot read it");
    const nlohmann::json json =
        nlohmann::json::parse(index.readAll().toStdString(), nullptr, false);
    if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object())
        return fileError(indexPath, "no weight_map object");
    std::set<std::string> files;
    for (const auto &[tensor, file] : json["weight_map"].items()) {
        if (!file.is_string())
            return fileError(indexPath, "the file of tensor " + tensor + " is not a string");
        files.insert(file.get<std::string>());
    }
    std::vector<QString> result;
    for (const std::string &file : files) {
        const QString name = QString::fromStdString(file);
        if (name.contains(QLatin1Char('/')) || name.contains(QLatin1Char('\\'))
            || name.startsWith(QLatin1Char('.')))
            return fileError(indexPath, "shard name '" + file + "' is not a plain file name");
        result.push_back(name);
    }
    return result;
}

// Adds one safetensors file: its name, size, header, and samples of each tensor's bytes.
Result<void> addWeightFile(QCryptographicHash &hash, const QDir &folder, const QString &name)
{
    QFile file(folder.filePath(name));
    if (!file.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::NotFound, file.fileName().toStdString() + ": cannot read it");
    const qint64 fileSize = file.size();
    std::uint64_t headerSize = 0;
    const QByteArray sizeBytes = file.read(8);
    if (sizeBytes.size() != 8)
        return fileError(file.fileName(), "shorter than a safetensors header");
    for (int i = 7; i >= 0; --i)
        headerSize = (headerSize << 8) | std::uint8_t(sizeBytes[i]);
    if (headerSize > kMaxHeaderBytes || qint64(8 + headerSize) > fileSize)
        return fileError(file.fileName(), "its header size " + std::to_string(headerSize)
                                              + " does not fit the file");
    const QByteArray header = file.read(qint64(headerSize));
    const nlohmann::json json = nlohmann::json::parse(header.toStdString(), nullptr, false);
    if (!json.is_object())
        return fileError(file.fileName(), "the header is not a JSON object");

    addField(hash, name.toUtf8());
    addField(hash, QByteArray::number(fileSize));
    addField(hash, header);

    // Each tensor's data range, in file order.
    std::vector<std::pair<qint64, qint64>> ranges;
    const qint64 dataStart = qint64(8 + headerSize);
    for (const auto &[tensor, info] : json.items()) {
        if (tensor == "__metadata__")
            continue;
        const auto offsets =
            info.is_object() ? info.value("data_offsets", nlohmann::json()) : nlohmann::json();
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned()
            || !offsets[1].is_number_unsigned())
            return fileError(file.fileName(), "tensor " + tensor + " has no valid data_offsets");
        const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
        if (begin > end || end > std::uint64_t(fileSize - dataStart))
            return fileError(file.fileName(), "tensor " + tensor + " lies outside the file");
        ranges.emplace_back(dataStart + qint64(begin), dataStart + qint64(end));
    }
    std::sort(ranges.begin(), ranges.end());

    for (const auto &[begin, end] : ranges) {
        const qint64 length = end - begin;
        const qint64 middle = begin + std::max<qint64>(0, length / 2 - kSampleBytes / 2);
        for (const qint64 at : {begin, middle, std::max(begin, end - kSampleBytes)}) {
            if (!file.seek(at))
                return fileError(file.fileName(), "cannot seek to byte " + std::to_string(at));
            const QByteArray sample = file.read(std::min(kSampleBytes, end - at));
            if (sample.size() != std::min(kSampleBytes, end - at))
                return fileError(file.fileName(), "short read at byte " + std::to_string(at));
            hash.addData(sample);
        }
    }
    return {};
}

} // namespace

Result<std::string> modelIdForDirectory(const std::string &directory)
{
    return modelIdForDirectory(directory, HubDownloadOptions::defaultManifestFolder());
}

Result<std::string> modelIdForDirectory(const std::string &directory, const QString &manifestFolder)
{
    const QDir folder(QString::fromStdString(directory));
    QFile config(folder.filePath(QStringLiteral("config.json")));
    if (!config.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::NotFound, directory + "/config.json: cannot read it");
    const QByteArray configText = config.readAll();

    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (snapshotLocation(folder.absolutePath())) {
        // A Hub snapshot may hold only some shards (a server fetches its blocks' only), but
        // the Hub names every file by its content hash: those are the weights' identity.
        auto digests = snapshotWeightDigests(folder.absolutePath(), manifestFolder);
        if (!digests)
            return digests.error();
        hash.addData(
            QByteArrayView(kHubIdentityVersion, qsizetype(std::strlen(kHubIdentityVersion))));
        addField(hash, configText);
        for (const WeightFileDigest &digest : *digests) {
            addField(hash, digest.name.toUtf8());
            addField(hash, QByteArray::number(qint64(digest.size)));
            addField(hash, digest.etag.toLatin1());
        }
    } else {
        hash.addData(QByteArrayView(kIdentityVersion, qsizetype(std::strlen(kIdentityVersion))));
        addField(hash, configText);
        auto files = weightFiles(folder);
        if (!files)
            return files.error();
        for (const QString &name : *files)
            if (auto added = addWeightFile(hash, folder, name); !added)
                return added.error();
    }

    // The folder's name is the user's choice and differs between machines; config and
    // weights are what the checkpoint is. Its model_type only makes the id readable.
    const nlohmann::json json = nlohmann::json::parse(configText.toStdString(), nullptr, false);
    std::string family =
        json.is_object() ? json.value("model_type", std::string("model")) : "model";
    if (family.empty() || family.size() > 32
        || !std::all_of(family.begin(), family.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
           }))
        family = "model";
    return family + "@" + hash.result().toHex().left(16).toStdString();
}

} // namespace corolla
