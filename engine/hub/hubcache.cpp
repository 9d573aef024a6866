#include "hub/hubcache.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>

namespace corolla {

namespace {

constexpr std::size_t kMaxRepoNameLength = 96;

QString environment(const char *name)
{
    return qEnvironmentVariableIsEmpty(name) ? QString() : qEnvironmentVariable(name);
}

bool validRepoPart(const std::string &part)
{
    if (part.empty() || part.size() > kMaxRepoNameLength)
        return false;
    if (part.find("--") != std::string::npos || part.find("..") != std::string::npos)
        return false;
    if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.')
        return false;
    return std::all_of(part.begin(), part.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
               || c == '.' || c == '_' || c == '-';
    });
}

bool validRevision(const std::string &revision)
{
    // Branch and tag names may hold slashes; nothing that could leave a folder or a URL path.
    if (revision.empty() || revision.size() > 255 || revision.find("..") != std::string::npos
        || revision.front() == '/' || revision.back() == '/')
        return false;
    return std::all_of(revision.begin(), revision.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
               || c == '.' || c == '_' || c == '-' || c == '/';
    });
}

} // namespace

std::string RepoRef::toString() const
{
    return revision == "main" ? repo : repo + "@" + revision;
}

Result<RepoRef> parseRepoRef(const std::string &text)
{
    RepoRef ref;
    const std::size_t at = text.find('@');
    ref.repo = text.substr(0, at);
    if (at != std::string::npos)
        ref.revision = text.substr(at + 1);
    const std::size_t slash = ref.repo.find('/');
    if (slash == std::string::npos || ref.repo.find('/', slash + 1) != std::string::npos
        || !validRepoPart(ref.repo.substr(0, slash)) || !validRepoPart(ref.repo.substr(slash + 1)))
        return makeError(ErrorCode::InvalidArgument,
                         "'" + text
                             + "' is not a Hub model name: expected ORG/NAME or "
                               "ORG/NAME@REVISION (letters, digits, '.', '_', '-')");
    if (!validRevision(ref.revision))
        return makeError(ErrorCode::InvalidArgument,
                         "'" + ref.revision + "' is not a valid revision of " + ref.repo);
    return ref;
}

bool looksLikeRepoRef(const std::string &text)
{
    return parseRepoRef(text).ok() && !QFileInfo::exists(QString::fromStdString(text));
}

bool isCommitHash(const std::string &text)
{
    return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

bool isSha256Etag(const QString &etag)
{
    static const QRegularExpression pattern(QStringLiteral("^[0-9a-f]{64}$"));
    return pattern.match(etag).hasMatch();
}

QString hubHomeFolder()
{
    if (const QString home = environment("HF_HOME"); !home.isEmpty())
        return home;
    const QString xdg = environment("XDG_CACHE_HOME");
    const QString cache =
        xdg.isEmpty() ? QDir(QDir::homePath()).filePath(QStringLiteral(".cache")) : xdg;
    return QDir(cache).filePath(QStringLiteral("huggingface"));
}

QString defaultHubCacheRoot()
{
    if (const QString root = environment("HF_HUB_CACHE"); !root.isEmpty())
        return root;
    return QDir(hubHomeFolder()).filePath(QStringLiteral("hub"));
}

QString hubToken()
{
    if (const QString token = environment("HF_TOKEN").trimmed(); !token.isEmpty())
        return token;
    QString path = environment("HF_TOKEN_PATH");
    if (path.isEmpty())
        path = QDir(hubHomeFolder()).filePath(QStringLiteral("token"));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(file.readLine(4096)).trimmed();
}

QString hubEndpoint()
{
    QString endpoint = environment("HF_ENDPOINT");
    if (endpoint.isEmpty())
        endpoint = QStringLiteral("https://huggingface.co");
    while (endpoint.endsWith(QLatin1Char('/')))
        endpoint.chop(1);
    return endpoint;
}

bool hubOfflineRequested()
{
    for (const char *name : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}) {
        const QString value = environment(name).toUpper();
        if (value == QLatin1String("1") || value == QLatin1String("ON")
            || value == QLatin1String("YES") || value == QLatin1String("TRUE"))
            return true;
    }
    return false;
}

HubCache::HubCache(QString root, std::string repo)
    : m_root(std::move(root))
    , m_repo(std::move(repo))
{
}

QString HubCache::folderName() const
{
    QString name = QStringLiteral("models--") + QString::fromStdString(m_repo);
    return name.replace(QLatin1Char('/'), QStringLiteral("--"));
}

QString HubCache::repoFolder() const
{
    return QDir(m_root).filePath(folderName());
}

QString HubCache::blobPath(const QString &etag) const
{
    return repoFolder() + QStringLiteral("/blobs/") + etag;
}

QString HubCache::incompletePath(const QString &etag) const
{
    return blobPath(etag) + QStringLiteral(".incomplete");
}

QString HubCache::lockPath(const QString &etag) const
{
    return QDir(m_root).filePath(QStringLiteral(".locks/") + folderName() + QLatin1Char('/') + etag
                                 + QStringLiteral(".lock"));
}

QString HubCache::snapshotFolder(const QString &commit) const
{
    return repoFolder() + QStringLiteral("/snapshots/") + commit;
}

QString HubCache::snapshotFile(const QString &commit, const QString &file) const
{
    return snapshotFolder(commit) + QLatin1Char('/') + file;
}

std::optional<QString> HubCache::commitFor(const std::string &revision) const
{
    if (isCommitHash(revision)
        && QFileInfo(snapshotFolder(QString::fromStdString(revision))).isDir())
        return QString::fromStdString(revision);
    QFile ref(repoFolder() + QStringLiteral("/refs/") + QString::fromStdString(revision));
    if (!ref.open(QIODevice::ReadOnly))
        return std::nullopt;
    const std::string commit = ref.readAll().trimmed().toStdString();
    if (!isCommitHash(commit))
        return std::nullopt;
    return QString::fromStdString(commit);
}

Result<void> HubCache::writeRef(const std::string &revision, const QString &commit) const
{
    if (revision == commit.toStdString())
        return {};
    const QString path = repoFolder() + QStringLiteral("/refs/") + QString::fromStdString(revision);
    if (QFile existing(path);
        existing.open(QIODevice::ReadOnly) && existing.readAll().trimmed() == commit.toLatin1())
        return {};
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(commit.toLatin1()) != commit.size()
        || !file.commit())
        return makeError(ErrorCode::Io, path.toStdString() + ": cannot write it");
    return {};
}

bool HubCache::hasFile(const QString &commit, const QString &file) const
{
    const QFileInfo info(snapshotFile(commit, file));
    return info.exists() && info.isFile() && info.isReadable(); // follows the link
}

Result<void> HubCache::linkSnapshotFile(const QString &commit, const QString &file,
                                        const QString &etag) const
{
    const QString linkPath = snapshotFile(commit, file);
    const QString blob = blobPath(etag);
    const QString folder = QFileInfo(linkPath).absolutePath();
    if (!QDir().mkpath(folder))
        return makeError(ErrorCode::Io, folder.toStdString() + ": cannot create it");
    const QString target = QDir(folder).relativeFilePath(blob);
    const QFileInfo existing(linkPath);
    if (existing.isSymLink() && existing.symLinkTarget() == QFileInfo(blob).absoluteFilePath())
        return {};
    if (existing.exists() || existing.isSymLink())
        QFile::remove(linkPath);
    std::error_code linkError;
    std::filesystem::create_symlink(target.toStdU16String(), linkPath.toStdU16String(), linkError);
    if (!linkError && QFileInfo(linkPath).exists())
        return {};
    QFile::remove(linkPath);
    // No links on this file system (FAT, or Windows without the right to create them):
    // huggingface_hub copies the blob then, and so do we.
    if (!QFile::copy(blob, linkPath))
        return makeError(ErrorCode::Io, linkPath.toStdString() + ": cannot link or copy "
                                            + blob.toStdString() + " there");
    return {};
}

std::optional<SnapshotLocation> snapshotLocation(const QString &directory)
{
    const QFileInfo info(directory);
    const QString commit = info.fileName();
    if (!isCommitHash(commit.toStdString()))
        return std::nullopt;
    QDir snapshots = info.absoluteDir();
    if (snapshots.dirName() != QLatin1String("snapshots"))
        return std::nullopt;
    QDir repoFolder = snapshots;
    repoFolder.cdUp();
    const QString name = repoFolder.dirName();
    if (!name.startsWith(QLatin1String("models--")))
        return std::nullopt;
    const QStringList parts = name.mid(8).split(QStringLiteral("--"));
    if (parts.size() != 2)
        return std::nullopt;
    const std::string repo = (parts[0] + QLatin1Char('/') + parts[1]).toStdString();
    if (!parseRepoRef(repo))
        return std::nullopt;
    QDir root = repoFolder;
    root.cdUp();
    return SnapshotLocation{root.absolutePath(), repo, commit};
}

} // namespace corolla
