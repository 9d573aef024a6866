#include "tools/hubfiles.h"

#include <algorithm>

#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>

namespace corolla::testing {

QByteArray fileBytes(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

QByteArray sha256File(const QString &path)
{
    QFile file(path);
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (file.open(QIODevice::ReadOnly))
        hash.addData(&file);
    return hash.result().toHex();
}

QByteArray gitBlobSha1(const QString &path)
{
    const QByteArray content = fileBytes(path);
    QCryptographicHash hash(QCryptographicHash::Sha1);
    hash.addData("blob " + QByteArray::number(content.size()) + '\0');
    hash.addData(content);
    return hash.result().toHex();
}

QSet<QString> shardsHolding(const QString &model, const QRegularExpression &pattern)
{
    const QJsonObject map =
        QJsonDocument::fromJson(fileBytes(model + QStringLiteral("/model.safetensors.index.json")))
            .object()
            .value(QStringLiteral("weight_map"))
            .toObject();
    QSet<QString> shards;
    for (auto it = map.begin(); it != map.end(); ++it)
        if (pattern.match(it.key()).hasMatch())
            shards.insert(it.value().toString());
    return shards;
}

Repo readRepo(const QString &folder, bool gated)
{
    Repo repo;
    repo.gated = gated;
    const QString root = QDir(folder).absolutePath();
    QDirIterator it(root, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        HubFile file;
        file.path = path;
        file.size = QFileInfo(path).size();
        file.lfs = path.endsWith(QLatin1String(".safetensors"));
        file.etag = file.lfs ? sha256File(path) : gitBlobSha1(path);
        repo.files[QDir(root).relativeFilePath(path)] = file;
    }
    QCryptographicHash commit(QCryptographicHash::Sha1);
    for (const auto &[relative, file] : repo.files)
        commit.addData(relative.toUtf8() + ' ' + file.etag + '\n');
    repo.commit = QString::fromLatin1(commit.result().toHex());
    return repo;
}

QString writeSynthetic(const QString &folder, qint64 size)
{
    constexpr qint64 kChunk = 1 << 20;
    QDir().mkpath(folder);
    QFile file(QDir(folder).filePath(QStringLiteral("model.safetensors")));
    file.open(QIODevice::WriteOnly);
    QRandomGenerator random(20261201);
    QByteArray chunk(kChunk, Qt::Uninitialized);
    for (qint64 written = 0; written < size; written += chunk.size()) {
        random.fillRange(reinterpret_cast<quint32 *>(chunk.data()), chunk.size() / 4);
        file.write(chunk.constData(), std::min<qint64>(chunk.size(), size - written));
    }
    QFile config(QDir(folder).filePath(QStringLiteral("config.json")));
    config.open(QIODevice::WriteOnly);
    config.write("{\"model_type\": \"synthetic\"}\n");
    return folder;
}

} // namespace corolla::testing
