#pragma once
// Brings the files of a Hub model repository that a task needs into the shared Hugging Face
// cache and returns the snapshot folder: files already there are never fetched again, an
// interrupted file resumes from its partial blob (also in a later run), LFS files are
// hashed while they arrive, every size is checked, two processes never write one blob at
// once, and without a network (or with HF_HUB_OFFLINE=1) the cache answers alone.
// Thread: any thread; fetch() blocks it (running a local event loop) until done or stopped.

#include <cstdint>
#include <functional>
#include <stop_token>

#include <QString>

#include "core/result.h"
#include "hub/fileselection.h"
#include "hub/hubcache.h"

namespace corolla {

struct DownloadProgress {
    QString file;
    int fileIndex = 0; // 1-based among the files to download
    int fileCount = 0;
    std::int64_t fileBytes = 0; // of this file, including what a partial blob already held
    std::int64_t fileSize = 0;
    std::int64_t bytes = 0; // of all files to download
    std::int64_t totalBytes = 0;
    double bytesPerSecond = 0; // over this run's transfers
    bool fileDone = false;
};

struct HubDownloadOptions {
    QString cacheRoot = defaultHubCacheRoot();
    QString endpoint = hubEndpoint();
    QString token = hubToken();
    bool offline = hubOfflineRequested();
    // Where Corolla records the sizes and hashes of a snapshot's weight files, including
    // those it did not fetch (the model's swarm identity needs them all).
    QString manifestFolder = defaultManifestFolder();
    int attemptsPerFile = 6; // a broken connection resumes this often before giving up
    std::function<void(const DownloadProgress &)> progress;
    std::function<void(const QString &)> note; // one line for the user: fallbacks, waits
    std::stop_token stop;

    static QString defaultManifestFolder();
};

class HubDownloader {
public:
    explicit HubDownloader(HubDownloadOptions options);

    // The snapshot folder holding what `selection` needs of `ref`.
    Result<QString> fetch(const RepoRef &ref, const FileSelection &selection);

    // What the fetches so far moved over the network, and the time spent downloading files
    // (from a file's request to its last byte, hashing and writing included).
    struct Totals {
        int files = 0;
        std::int64_t bytes = 0;
        double seconds = 0;
    };
    const Totals &totals() const { return m_totals; }

private:
    struct Plan;
    Result<QString> fetchOnline(const RepoRef &ref, const FileSelection &selection,
                                class HubHttp &http, const struct RepoListing &listing);
    Result<QString> fetchOffline(const RepoRef &ref, const FileSelection &selection) const;
    Result<void> downloadFiles(HubHttp &http, const HubCache &cache, const QString &commit,
                               Plan &plan);
    Result<void> downloadBlob(HubHttp &http, const HubCache &cache, Plan &plan, int item);

    HubDownloadOptions m_options;
    Totals m_totals;
};

// For a snapshot folder of a Hub cache: fetches into it the weight shards that hold blocks
// [begin, end), from the same cache, repository and commit (what a server needs before it
// loads them). Any other folder has all its weights already: nothing to do.
Result<void> fetchSnapshotBlocks(const QString &directory, std::int64_t begin, std::int64_t end,
                                 HubDownloadOptions options);

} // namespace corolla
