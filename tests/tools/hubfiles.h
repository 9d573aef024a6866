#pragma once
// Files as the Hugging Face Hub names and serves them, for the test hub and the tests of the
// Hub client.

#include <map>

#include <QByteArray>
#include <QRegularExpression>
#include <QSet>
#include <QString>

namespace corolla::testing {

struct HubFile {
    QString path;
    qint64 size = 0;
    QByteArray etag; // sha256 for LFS files, a git-blob sha1 for the others
    bool lfs = false;
};

// A repository at one commit: its files by path, the commit a hash of their paths and etags.
struct Repo {
    QString commit;
    std::map<QString, HubFile> files;
    bool gated = false;
};

// The files under `folder` as a repository (.safetensors files are LFS files).
Repo readRepo(const QString &folder, bool gated);

// The bytes of a file, empty when it cannot be read.
QByteArray fileBytes(const QString &path);
// Hex digests: the SHA-256 the Hub gives an LFS file as its ETag, and the git blob id it gives
// any other file.
QByteArray sha256File(const QString &path);
QByteArray gitBlobSha1(const QString &path);
// The shards a checkpoint folder's model.safetensors.index.json puts tensors matching
// `pattern` in.
QSet<QString> shardsHolding(const QString &model, const QRegularExpression &pattern);
// A folder with a config.json and a model.safetensors of `size` deterministic pseudo-random
// bytes, for the download benchmark.
QString writeSynthetic(const QString &folder, qint64 size);

} // namespace corolla::testing
