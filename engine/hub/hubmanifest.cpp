#include "hub/hubmanifest.h"

#include <set>

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include "hub/fileselection.h"
#include "hub/sha256.h"

namespace corolla {

namespace {

QString manifestPath(const QString &folder, const HubCache &cache, const QString &commit)
{
    return QDir(folder).filePath(cache.folderName() + QLatin1Char('/') + commit
                                 + QStringLiteral(".json"));
}

// The weight files a checkpoint folder consists of, by its index or its single file.
Result<std::vector<QString>> checkpointWeightFiles(const QDir &folder)
{
    QFile index(folder.filePath(QStringLiteral("model.safetensors.index.json")));
    if (!index.exists())
        return std::vector<QString>{QStringLiteral("model.safetensors")};
    if (!index.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io, index.fileName().toStdString() + ": cannot read it");
    const auto json = nlohmann::json::parse(index.readAll().toStdString(), nullptr, false);
    if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object())
        return makeError(ErrorCode::Format,
                         index.fileName().toStdString() + ": no weight_map object");
    std::set<QString> files;
    for (const auto &[tensor, file] : json["weight_map"].items())
        if (file.is_string())
            files.insert(QString::fromStdString(file.get<std::string>()));
    return std::vector<QString>(files.begin(), files.end());
}

Result<QString> hashFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io, path.toStdString() + ": cannot read it");
    Sha256 hash;
    QByteArray chunk(8 << 20, Qt::Uninitialized);
    for (qint64 got; (got = file.read(chunk.data(), chunk.size())) > 0;)
        hash.add(chunk.constData(), got);
    return hash.finishHex();
}

} // namespace

Result<HubManifest> readHubManifest(const QString &folder, const HubCache &cache,
                                    const QString &commit)
{
    QFile file(manifestPath(folder, cache, commit));
    HubManifest manifest;
    if (!file.exists())
        return manifest;
    if (!file.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io, file.fileName().toStdString() + ": cannot read it");
    const auto json = nlohmann::json::parse(file.readAll().toStdString(), nullptr, false);
    if (!json.is_object() || !json.contains("files") || !json["files"].is_object())
        return makeError(ErrorCode::Format, file.fileName().toStdString() + ": no files object");
    for (const auto &[name, entry] : json["files"].items()) {
        if (!entry.is_object() || !entry.contains("size") || !entry["size"].is_number_unsigned()
            || !entry.contains("etag") || !entry["etag"].is_string())
            return makeError(ErrorCode::Format,
                             file.fileName().toStdString() + ": entry '" + name + "' is malformed");
        const QString fileName = QString::fromStdString(name);
        manifest[fileName] = {fileName, entry["size"].get<std::int64_t>(),
                              QString::fromStdString(entry["etag"].get<std::string>())};
    }
    return manifest;
}

Result<void> writeHubManifest(const QString &folder, const HubCache &cache, const QString &commit,
                              const HubManifest &manifest)
{
    nlohmann::json files = nlohmann::json::object();
    for (const auto &[name, digest] : manifest)
        files[name.toStdString()] = {{"size", digest.size}, {"etag", digest.etag.toStdString()}};
    const nlohmann::json json = {
        {"repo", cache.repo()}, {"commit", commit.toStdString()}, {"files", files}};
    const QString path = manifestPath(folder, cache, commit);
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile file(path);
    const QByteArray text = QByteArray::fromStdString(json.dump(1));
    if (!file.open(QIODevice::WriteOnly) || file.write(text) != text.size() || !file.commit())
        return makeError(ErrorCode::Io, path.toStdString() + ": cannot write it");
    return {};
}

Result<std::vector<WeightFileDigest>> snapshotWeightDigests(const QString &directory,
                                                            const QString &manifestFolder)
{
    const std::optional<SnapshotLocation> location = snapshotLocation(directory);
    if (!location)
        return makeError(ErrorCode::InvalidArgument,
                         directory.toStdString() + ": not a snapshot folder of a Hub cache");
    const HubCache cache(location->root, location->repo);
    const QDir folder(directory);
    auto files = checkpointWeightFiles(folder);
    if (!files)
        return files.error();
    auto manifest = readHubManifest(manifestFolder, cache, location->commit);
    if (!manifest)
        return manifest.error();

    std::vector<WeightFileDigest> digests;
    for (const QString &name : *files) {
        const QFileInfo info(folder.filePath(name));
        const QString blobFolder = QFileInfo(cache.blobPath(QStringLiteral("x"))).absolutePath();
        if (info.isSymLink() && info.exists()
            && QFileInfo(info.symLinkTarget()).absolutePath() == blobFolder) {
            digests.push_back({name, info.size(), QFileInfo(info.symLinkTarget()).fileName()});
        } else if (const auto known = manifest->find(name); known != manifest->end()) {
            digests.push_back(known->second);
        } else if (info.isFile()) {
            auto hash = hashFile(info.filePath());
            if (!hash)
                return hash.error();
            digests.push_back({name, info.size(), *hash});
        } else {
            return makeError(ErrorCode::NotFound,
                             directory.toStdString() + ": " + name.toStdString()
                                 + " is not in the cache and Corolla has no record of it; run "
                                   "`corolla download "
                                 + location->repo + "@" + location->commit.toStdString()
                                 + "` once online");
        }
    }
    return digests;
}

} // namespace corolla
