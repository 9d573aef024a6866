#pragma once
// The Hugging Face Hub cache on disk, in the layout huggingface_hub writes and reads, so that
// Python and JavaScript tools and Corolla share one copy of every model:
//   <root>/models--ORG--NAME/blobs/<etag>                  the files' bytes, named by ETag
//   <root>/models--ORG--NAME/snapshots/<commit>/<path>      relative links to ../../blobs/<etag>
//   <root>/models--ORG--NAME/refs/<revision>                the commit a branch or tag named
//   <root>/.locks/models--ORG--NAME/<etag>.lock             held while a blob is written
// Thread: any; a HubCache is a value, its operations are file-system calls.

#include <optional>
#include <string>

#include <QString>

#include "core/result.h"

namespace corolla {

// "ORG/NAME" or "ORG/NAME@REVISION" as users type it; the revision defaults to "main".
struct RepoRef {
    std::string repo;
    std::string revision = "main";

    std::string toString() const;
};

// Refuses what the Hub would refuse: not two parts, empty parts, characters outside
// [A-Za-z0-9._-], "--" or ".." inside a name, names over 96 characters.
Result<RepoRef> parseRepoRef(const std::string &text);
// Whether `text` could only mean a Hub repository (and not a local folder).
bool looksLikeRepoRef(const std::string &text);
// A commit id: 40 lowercase hex digits.
bool isCommitHash(const std::string &text);

// $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (on Windows the same
// folder under the user's profile, as huggingface_hub does).
QString defaultHubCacheRoot();
// $HF_HOME, else ~/.cache/huggingface.
QString hubHomeFolder();
// $HF_TOKEN, else the first line of $HF_HOME/token; empty when neither is set.
QString hubToken();
// $HF_ENDPOINT without a trailing slash, else https://huggingface.co.
QString hubEndpoint();
// Whether HF_HUB_OFFLINE asks for no network at all.
bool hubOfflineRequested();

class HubCache {
public:
    HubCache(QString root, std::string repo);

    const QString &root() const { return m_root; }
    const std::string &repo() const { return m_repo; }
    // "models--ORG--NAME".
    QString folderName() const;
    QString repoFolder() const;
    QString blobPath(const QString &etag) const;
    QString incompletePath(const QString &etag) const;
    QString lockPath(const QString &etag) const;
    QString snapshotFolder(const QString &commit) const;
    QString snapshotFile(const QString &commit, const QString &file) const;

    // The commit `revision` names in the cache: itself when it is a commit with a snapshot,
    // else refs/<revision>; nullopt when the cache does not know it.
    std::optional<QString> commitFor(const std::string &revision) const;
    // Records refs/<revision> = commit (nothing for a revision that is the commit itself).
    Result<void> writeRef(const std::string &revision, const QString &commit) const;
    // Whether snapshots/<commit>/<file> exists and is readable (a link to an existing blob).
    bool hasFile(const QString &commit, const QString &file) const;
    // Points snapshots/<commit>/<file> at blobs/<etag>: a relative symbolic link, or a copy of
    // the blob where the file system cannot link.
    Result<void> linkSnapshotFile(const QString &commit, const QString &file,
                                  const QString &etag) const;

private:
    QString m_root;
    std::string m_repo;
};

// When `directory` is a snapshot folder of a Hub cache (…/models--ORG--NAME/snapshots/<commit>),
// its repository and commit.
struct SnapshotLocation {
    QString root;
    std::string repo;
    QString commit;
};
std::optional<SnapshotLocation> snapshotLocation(const QString &directory);

// Whether a Hub ETag is a SHA-256 (the LFS files: weights), as opposed to a git blob id.
bool isSha256Etag(const QString &etag);

} // namespace corolla
