#include "hub/hubdownloader.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QStorageInfo>
#include <QUrl>

#include "core/bytesize.h"
#include "hub/filelock.h"
#include "hub/hubhttp.h"
#include "hub/hubmanifest.h"
#include "hub/sha256.h"

namespace corolla {

// The repository at one commit, as the Hub's API lists it.
struct RepoListing {
    QString commit;
    QStringList files;
};

struct HubDownloader::Plan {
    struct Item {
        QString file;
        HubFileMetadata metadata;
        std::int64_t present = 0; // bytes a partial blob already holds
    };
    std::vector<Item> items;
    std::int64_t totalBytes = 0;
    std::int64_t doneBytes = 0;
    std::int64_t transferred = 0; // over the network in this run
    QElapsedTimer clock;
};

namespace {

constexpr qint64 kHashChunk = 8 << 20;
constexpr std::int64_t kDiskReserve = 64 << 20;

bool isSafeEtag(const QString &etag)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9_.-]{1,128}$"));
    return pattern.match(etag).hasMatch() && etag != QLatin1String(".")
           && etag != QLatin1String("..");
}

Result<RepoListing> parseListing(const nlohmann::json &json, const RepoRef &ref)
{
    const std::string what = "the Hub's file list of " + ref.toString();
    RepoListing listing;
    if (!json.contains("sha") || !json["sha"].is_string()
        || !isCommitHash(json["sha"].get<std::string>()))
        return makeError(ErrorCode::Format, what + " has no commit id (sha)");
    listing.commit = QString::fromStdString(json["sha"].get<std::string>());
    if (!json.contains("siblings") || !json["siblings"].is_array())
        return makeError(ErrorCode::Format, what + " has no siblings list");
    for (const auto &sibling : json["siblings"]) {
        if (!sibling.is_object() || !sibling.contains("rfilename")
            || !sibling["rfilename"].is_string())
            return makeError(ErrorCode::Format, what + " has a sibling without rfilename");
        const QString name = QString::fromStdString(sibling["rfilename"].get<std::string>());
        if (!isSafeRepoPath(name))
            return makeError(ErrorCode::Format,
                             what + " names an unsafe path '" + name.toStdString() + "'");
        listing.files.push_back(name);
    }
    return listing;
}

QString readSnapshotText(const HubCache &cache, const QString &commit, const QString &file)
{
    QFile text(cache.snapshotFile(commit, file));
    return text.open(QIODevice::ReadOnly) ? QString::fromUtf8(text.readAll()) : QString();
}

bool sleepUnlessStopped(std::chrono::milliseconds duration, const std::stop_token &stop)
{
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
        if (stop.stop_requested())
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return !stop.stop_requested();
}

template <typename T> Result<T> orError(HubResult<T> &&result)
{
    if (auto *failure = std::get_if<HubFailure>(&result))
        return failure->error;
    return std::get<T>(std::move(result));
}

} // namespace

QString HubDownloadOptions::defaultManifestFolder()
{
    return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericCacheLocation))
        .filePath(QStringLiteral("corolla/hub"));
}

HubDownloader::HubDownloader(HubDownloadOptions options)
    : m_options(std::move(options))
{
}

Result<QString> HubDownloader::fetch(const RepoRef &ref, const FileSelection &selection)
{
    if (m_options.offline)
        return fetchOffline(ref, selection);
    HubHttp http(m_options.endpoint, m_options.token, m_options.stop);
    const QString path =
        QStringLiteral("api/models/") + QString::fromStdString(ref.repo)
        + QStringLiteral("/revision/")
        + QString::fromUtf8(QUrl::toPercentEncoding(QString::fromStdString(ref.revision)));
    auto answer = http.getJson(path, ref.toString());
    if (auto *failure = std::get_if<HubFailure>(&answer)) {
        if (!failure->unreachable)
            return failure->error;
        if (m_options.note)
            m_options.note(QStringLiteral("the Hub cannot be reached (%1); using the cache")
                               .arg(QString::fromStdString(failure->error.message)));
        auto cached = fetchOffline(ref, selection);
        if (!cached)
            return makeError(cached.error().code,
                             failure->error.message + "; and " + cached.error().message);
        return cached;
    }
    auto listing = parseListing(std::get<nlohmann::json>(answer), ref);
    if (!listing)
        return listing.error();
    return fetchOnline(ref, selection, http, *listing);
}

Result<QString> HubDownloader::fetchOnline(const RepoRef &ref, const FileSelection &selection,
                                           HubHttp &http, const RepoListing &listing)
{
    const HubCache cache(m_options.cacheRoot, ref.repo);
    const QString &commit = listing.commit;
    if (auto written = cache.writeRef(ref.revision, commit); !written)
        return written.error();
    auto manifest = readHubManifest(m_options.manifestFolder, cache, commit);
    if (!manifest)
        return manifest.error();
    const std::size_t knownBefore = manifest->size();

    // The files in two rounds: the metadata (or the globs' files) first, since the index
    // says which shards hold what; then the weights the selection needs.
    auto ensure = [&](const std::vector<QString> &files) -> Result<void> {
        Plan plan;
        for (const QString &file : files) {
            if (cache.hasFile(commit, file))
                continue;
            auto metadata = orError(http.fileMetadata(ref.repo, commit.toStdString(), file));
            if (!metadata)
                return metadata.error();
            if (!isSafeEtag(metadata->etag))
                return makeError(ErrorCode::Format, ref.repo + ": " + file.toStdString()
                                                        + ": the Hub sent no usable "
                                                          "ETag ('"
                                                        + metadata->etag.toStdString() + "')");
            if (!metadata->commit.isEmpty() && metadata->commit != commit && m_options.note)
                m_options.note(QStringLiteral("%1: the Hub answered for commit %2, not %3")
                                   .arg(file, metadata->commit, commit));
            if (isWeightFile(file) && metadata->size >= 0)
                (*manifest)[file] = {file, metadata->size, metadata->etag};
            const QFileInfo blob(cache.blobPath(metadata->etag));
            if (blob.isFile() && (metadata->size < 0 || blob.size() == metadata->size)) {
                if (auto linked = cache.linkSnapshotFile(commit, file, metadata->etag); !linked)
                    return linked.error();
                continue;
            }
            const QFileInfo partial(cache.incompletePath(metadata->etag));
            Plan::Item item{file, *metadata, partial.isFile() ? partial.size() : 0};
            if (item.metadata.size >= 0 && item.present > item.metadata.size)
                item.present = 0;
            plan.items.push_back(std::move(item));
        }
        return downloadFiles(http, cache, commit, plan);
    };

    if (selection.includes.isEmpty() && !listing.files.contains(QStringLiteral("config.json")))
        return makeError(ErrorCode::NotFound,
                         ref.toString()
                             + " has no config.json: not a model Corolla can run "
                               "(--include fetches files of any repository)");
    std::vector<QString> first;
    for (const QString &file : listing.files)
        if (selection.includes.isEmpty()
                ? isMetadataFile(file)
                : std::any_of(selection.includes.begin(), selection.includes.end(),
                              [&](const QString &glob) { return matchesGlob(file, glob); }))
            first.push_back(file);
    if (!selection.includes.isEmpty() && first.empty())
        return makeError(ErrorCode::NotFound,
                         ref.toString() + " has no file matching "
                             + selection.includes.join(QStringLiteral(", ")).toStdString());
    if (auto done = ensure(first); !done)
        return done.error();

    if (selection.includes.isEmpty() && selection.weights) {
        const QString index = QStringLiteral("model.safetensors.index.json");
        const std::string indexText = listing.files.contains(index)
                                          ? readSnapshotText(cache, commit, index).toStdString()
                                          : std::string();
        auto weights = weightFilesFor(selection, listing.files, indexText);
        if (!weights)
            return makeError(weights.error().code, ref.toString() + ": " + weights.error().message);
        if (selection.allWeights() && weights->empty())
            return makeError(ErrorCode::Unsupported,
                             ref.toString()
                                 + " has no .safetensors weights, the format Corolla "
                                   "loads");
        if (auto done = ensure({weights->begin(), weights->end()}); !done)
            return done.error();
    }

    // Every weight file's size and hash, for the swarm identity of a partial snapshot.
    for (const QString &file : listing.files) {
        if (!isWeightFile(file) || manifest->count(file))
            continue;
        const QFileInfo cached(cache.snapshotFile(commit, file));
        if (cached.isSymLink() && cached.exists()) {
            (*manifest)[file] = {file, cached.size(), QFileInfo(cached.symLinkTarget()).fileName()};
            continue;
        }
        auto metadata = orError(http.fileMetadata(ref.repo, commit.toStdString(), file));
        if (!metadata)
            return metadata.error();
        (*manifest)[file] = {file, metadata->size, metadata->etag};
    }
    if (manifest->size() != knownBefore)
        if (auto written = writeHubManifest(m_options.manifestFolder, cache, commit, *manifest);
            !written)
            return written.error();
    return cache.snapshotFolder(commit);
}

Result<QString> HubDownloader::fetchOffline(const RepoRef &ref,
                                            const FileSelection &selection) const
{
    const HubCache cache(m_options.cacheRoot, ref.repo);
    const std::optional<QString> commit = cache.commitFor(ref.revision);
    if (!commit)
        return makeError(ErrorCode::NotFound,
                         "offline: the cache (" + m_options.cacheRoot.toStdString() + ") holds no "
                             + ref.toString() + "; download it once with a network");
    const QDir snapshot(cache.snapshotFolder(*commit));
    QStringList present;
    for (const QString &name : snapshot.entryList(QDir::Files))
        present.push_back(name);
    if (!selection.includes.isEmpty()) {
        const bool any = std::any_of(present.begin(), present.end(), [&](const QString &file) {
            return std::any_of(selection.includes.begin(), selection.includes.end(),
                               [&](const QString &glob) { return matchesGlob(file, glob); });
        });
        if (!any)
            return makeError(ErrorCode::NotFound, "offline: the cached " + ref.toString()
                                                      + " has no file matching the globs");
        return snapshot.absolutePath();
    }
    if (!present.contains(QStringLiteral("config.json")))
        return makeError(ErrorCode::NotFound,
                         "offline: the cached " + ref.toString() + " lacks config.json");
    // The index lists every shard, fetched or not: what the selection needs must be here.
    const QString index = QStringLiteral("model.safetensors.index.json");
    const std::string indexText = readSnapshotText(cache, *commit, index).toStdString();
    QStringList files = present;
    if (!indexText.empty())
        if (const auto json = nlohmann::json::parse(indexText, nullptr, false);
            json.is_object() && json.contains("weight_map") && json["weight_map"].is_object())
            for (const auto &[tensor, file] : json["weight_map"].items())
                if (file.is_string() && !files.contains(QString::fromStdString(file)))
                    files.push_back(QString::fromStdString(file));
    auto weights = weightFilesFor(selection, files, indexText);
    if (!weights)
        return weights.error();
    for (const QString &file : *weights)
        if (!cache.hasFile(*commit, file))
            return makeError(ErrorCode::NotFound, "offline: the cached " + ref.toString()
                                                      + " lacks " + file.toStdString());
    if (selection.weights && weights->empty())
        return makeError(ErrorCode::NotFound,
                         "offline: the cached " + ref.toString() + " holds no weights");
    return snapshot.absolutePath();
}

Result<void> HubDownloader::downloadFiles(HubHttp &http, const HubCache &cache,
                                          const QString &commit, Plan &plan)
{
    if (plan.items.empty())
        return {};
    std::int64_t needed = 0;
    for (const Plan::Item &item : plan.items) {
        plan.totalBytes += std::max<std::int64_t>(0, item.metadata.size);
        needed += std::max<std::int64_t>(0, item.metadata.size - item.present);
    }
    plan.doneBytes = 0;
    QDir().mkpath(cache.repoFolder() + QStringLiteral("/blobs"));
    const QStorageInfo storage(cache.repoFolder());
    if (storage.isValid() && storage.bytesAvailable() >= 0
        && storage.bytesAvailable() < needed + kDiskReserve)
        return makeError(ErrorCode::ResourceExhausted,
                         "not enough disk space in " + cache.root().toStdString() + ": "
                             + formatBytes(needed) + " to download, "
                             + formatBytes(storage.bytesAvailable()) + " free");
    plan.clock.start();
    for (int i = 0; i < int(plan.items.size()); ++i) {
        const qint64 startNs = plan.clock.nsecsElapsed();
        const std::int64_t startBytes = plan.transferred;
        auto done = downloadBlob(http, cache, plan, i);
        m_totals.seconds += double(plan.clock.nsecsElapsed() - startNs) * 1e-9;
        m_totals.bytes += plan.transferred - startBytes;
        if (!done)
            return done.error();
        ++m_totals.files;
        const Plan::Item &item = plan.items[std::size_t(i)];
        if (auto linked = cache.linkSnapshotFile(commit, item.file, item.metadata.etag); !linked)
            return linked.error();
    }
    return {};
}

Result<void> HubDownloader::downloadBlob(HubHttp &http, const HubCache &cache, Plan &plan,
                                         int index)
{
    const Plan::Item &item = plan.items[std::size_t(index)];
    const QString &etag = item.metadata.etag;
    const std::int64_t size = item.metadata.size;
    const std::string what = cache.repo() + ": " + item.file.toStdString();
    DownloadProgress progress;
    progress.file = item.file;
    progress.fileIndex = index + 1;
    progress.fileCount = int(plan.items.size());
    progress.fileSize = std::max<std::int64_t>(0, size);
    progress.totalBytes = plan.totalBytes;
    auto report = [&](std::int64_t fileBytes, bool done) {
        progress.fileBytes = fileBytes;
        progress.bytes = plan.doneBytes + fileBytes;
        progress.fileDone = done;
        const double seconds = double(plan.clock.nsecsElapsed()) * 1e-9;
        progress.bytesPerSecond = seconds > 0 ? double(plan.transferred) / seconds : 0;
        if (m_options.progress)
            m_options.progress(progress);
    };

    auto lock = FileLock::acquire(cache.lockPath(etag), m_options.stop, [&] {
        if (m_options.note)
            m_options.note(QStringLiteral("%1: another download of this file is under way; "
                                          "waiting for it")
                               .arg(item.file));
    });
    if (!lock)
        return lock.error();
    const QString blobPath = cache.blobPath(etag);
    if (QFileInfo blob(blobPath); blob.isFile() && (size < 0 || blob.size() == size)) {
        report(blob.size(), true); // the other download finished it
        plan.doneBytes += blob.size();
        return {};
    }

    QFile partial(cache.incompletePath(etag));
    if (!partial.open(QIODevice::ReadWrite | QIODevice::Unbuffered))
        return makeError(ErrorCode::Io, partial.fileName().toStdString() + ": cannot open it: "
                                            + partial.errorString().toStdString());
    if (size >= 0 && partial.size() > size)
        partial.resize(0);
    const bool hashed = isSha256Etag(etag);
    BackgroundSha256 hash;
    if (hashed && partial.size() > 0) { // what an earlier run left: its bytes count too
        for (QByteArray chunk; !(chunk = partial.read(kHashChunk)).isEmpty();)
            hash.add(chunk);
    }
    if (!partial.seek(partial.size()))
        return makeError(ErrorCode::Io, partial.fileName().toStdString() + ": cannot seek");
    std::int64_t written = partial.size();
    report(written, false);

    HubHttp::Transfer transfer;
    transfer.restart = [&] {
        partial.resize(0);
        partial.seek(0);
        hash.finishHex(); // discards what was hashed
        written = 0;
    };
    QElapsedTimer sinceReport;
    sinceReport.start();
    transfer.sink = [&](const QByteArray &chunk) -> Result<void> {
        if (partial.write(chunk) != chunk.size())
            return makeError(ErrorCode::Io, partial.fileName().toStdString() + ": cannot write: "
                                                + partial.errorString().toStdString());
        if (hashed)
            hash.add(chunk);
        written += chunk.size();
        plan.transferred += chunk.size();
        if (sinceReport.elapsed() >= 100) {
            sinceReport.restart();
            report(written, false);
        }
        return {};
    };

    for (int attempt = 1; size < 0 || written < size; ++attempt) {
        auto got = http.download(item.metadata.location, written, size, transfer);
        if (auto *failure = std::get_if<HubFailure>(&got)) {
            if (failure->error.code == ErrorCode::Cancelled
                || failure->error.code == ErrorCode::PermissionDenied
                || failure->error.code == ErrorCode::NotFound
                || attempt >= m_options.attemptsPerFile)
                return failure->error;
            const auto pause = std::chrono::milliseconds(250 << std::min(attempt - 1, 5));
            if (m_options.note)
                m_options.note(QStringLiteral("%1; resuming from byte %2")
                                   .arg(QString::fromStdString(failure->error.message))
                                   .arg(written));
            if (!sleepUnlessStopped(pause, m_options.stop))
                return makeError(ErrorCode::Cancelled, what + ": cancelled");
            continue;
        }
        if (size < 0)
            break; // no size announced: the answer's end is the file's end
        if (written < size && attempt >= m_options.attemptsPerFile)
            break; // the server keeps ending the answer early
    }
    if (size >= 0 && written != size)
        return makeError(ErrorCode::Format, what + ": received " + std::to_string(written)
                                                + " bytes, the Hub announced "
                                                + std::to_string(size));
    if (hashed) {
        const QString actual = hash.finishHex();
        if (actual != etag) {
            partial.close();
            partial.remove();
            return makeError(ErrorCode::Format,
                             what + ": the bytes received have SHA-256 " + actual.toStdString()
                                 + ", the Hub announced " + etag.toStdString()
                                 + "; the damaged download was deleted, run again to fetch it "
                                   "anew");
        }
    }
    partial.close();
    QFile::remove(blobPath);
    if (!QFile::rename(partial.fileName(), blobPath))
        return makeError(ErrorCode::Io, blobPath.toStdString()
                                            + ": cannot move the download "
                                              "there");
    report(written, true);
    plan.doneBytes += written;
    return {};
}

Result<void> fetchSnapshotBlocks(const QString &directory, std::int64_t begin, std::int64_t end,
                                 HubDownloadOptions options)
{
    const std::optional<SnapshotLocation> location = snapshotLocation(directory);
    if (!location)
        return {};
    options.cacheRoot = location->root;
    FileSelection selection;
    selection.blocks = std::make_pair(begin, end);
    HubDownloader downloader(std::move(options));
    auto fetched =
        downloader.fetch(RepoRef{location->repo, location->commit.toStdString()}, selection);
    if (!fetched)
        return fetched.error();
    return {};
}

} // namespace corolla
