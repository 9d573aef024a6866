// `corolla download` and `--model ORG/NAME` against a Hub served by the test (real HTTP on
// 127.0.0.1, LFS files redirected to a second origin): the huggingface_hub cache layout, reuse,
// only the needed shards, resume within and across runs, a server that ignores Range,
// corrupted bytes, concurrent downloads, gated repositories and 404s, offline use, and a
// generation from the Hub equal to the same one from the folder.

#include <csignal>
#include <filesystem>

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "client/swarmarguments.h"
#include "hub/testhubserver.h"
#include "tools/hubfiles.h"
#include "tools/peerprocesses.h"

using corolla::PeerProcesses;
using corolla::testing::fileBytes;
using corolla::testing::shardsHolding;
using corolla::testing::TestHubServer;

namespace {

const QString kRepo = QStringLiteral("acme/tiny");
const QString kGated = QStringLiteral("acme/gated");
const QString kToken = QStringLiteral("hf_test_token_1234");

QString sha256Of(const QString &path)
{
    return QString::fromLatin1(corolla::testing::sha256File(path));
}

QString lastLine(const QByteArray &out)
{
    const QStringList lines = QString::fromUtf8(out).trimmed().split(QLatin1Char('\n'));
    return lines.last();
}

} // namespace

class TestDownload : public QObject {
    Q_OBJECT

private:
    PeerProcesses m_processes{QStringLiteral(COROLLA_BINARY)};
    std::unique_ptr<TestHubServer> m_hub;
    QTemporaryDir m_folder;
    QString m_model; // the repository's files, as make-test-model wrote them
    QString m_commit;
    int m_caches = 0;

    QString cacheRoot() const { return m_folder.filePath(QStringLiteral("cache%1").arg(m_caches)); }
    // A fresh, empty cache for the next downloads.
    void newCache()
    {
        ++m_caches;
        m_processes.setEnvironment(QStringLiteral("HF_HUB_CACHE"), cacheRoot());
        m_hub->clear();
    }
    PeerProcesses::Outcome corolla(const QStringList &arguments)
    {
        return m_processes.runToEnd(arguments);
    }
    QString snapshot() const
    {
        return cacheRoot() + QStringLiteral("/models--acme--tiny/snapshots/") + m_commit;
    }
    int cdnGets(const QString &file)
    {
        return m_hub->stats()["get"].toObject()["cdn:" + file].toInt();
    }
    QString shard(int index) const
    {
        return QStringLiteral("model-%1-of-00003.safetensors").arg(index, 5, 10, QLatin1Char('0'));
    }
    void expectSameFile(const QString &file)
    {
        const QByteArray expected = fileBytes(m_model + QLatin1Char('/') + file);
        QVERIFY2(!expected.isEmpty(), qPrintable(file));
        QCOMPARE(fileBytes(snapshot() + QLatin1Char('/') + file), expected);
    }
    QStringList leftovers()
    {
        QStringList found;
        QDirIterator it(cacheRoot(), {QStringLiteral("*.incomplete")}, QDir::Files,
                        QDirIterator::Subdirectories);
        while (it.hasNext())
            found.push_back(it.next());
        return found;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_folder.isValid());
        m_model = m_folder.filePath(QStringLiteral("model"));
        auto made = corolla({QStringLiteral("make-test-model"), QStringLiteral("--family"),
                             QStringLiteral("llama"), QStringLiteral("--shards"),
                             QStringLiteral("3"), QStringLiteral("--out"), m_model});
        QCOMPARE(made.exitCode, 0);
        m_hub = std::make_unique<TestHubServer>(
            m_processes, QStringLiteral(COROLLA_TESTHUB),
            QStringList{QStringLiteral("--repo"), kRepo + QLatin1Char('=') + m_model,
                        QStringLiteral("--repo"), kGated + QLatin1Char('=') + m_model,
                        QStringLiteral("--gated"), kGated, QStringLiteral("--token"), kToken});
        QVERIFY(m_hub->isRunning());
        m_processes.setEnvironment(QStringLiteral("HF_ENDPOINT"), m_hub->url());
        m_processes.setEnvironment(QStringLiteral("HF_TOKEN"), {});
        m_processes.setEnvironment(QStringLiteral("HF_HOME"),
                                   m_folder.filePath(QStringLiteral("hfhome")));
        m_processes.setEnvironment(QStringLiteral("HF_HUB_OFFLINE"), {});
        m_commit = m_hub->modelInfo(kRepo)["sha"].toString();
        QCOMPARE(m_commit.size(), 40);
    }

    void cacheLayoutIsHuggingFaceHubs()
    {
        newCache();
        auto run = corolla({QStringLiteral("download"), kRepo});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QCOMPARE(lastLine(run.out), snapshot());
        QCOMPARE(fileBytes(cacheRoot() + QStringLiteral("/models--acme--tiny/refs/main")),
                 m_commit.toLatin1());
        const QStringList files = QDir(m_model).entryList(QDir::Files);
        QCOMPARE(QDir(snapshot()).entryList(QDir::Files), files);
        for (const QString &file : files) {
            const QFileInfo link(snapshot() + QLatin1Char('/') + file);
            QVERIFY2(link.isSymLink(), qPrintable(file));
            const QString target = QFile(link.filePath()).symLinkTarget();
            QCOMPARE(QFileInfo(target).absolutePath(),
                     QFileInfo(cacheRoot() + QStringLiteral("/models--acme--tiny/blobs/x"))
                         .absolutePath());
            // Relative, as huggingface_hub makes them: the cache can move.
            QCOMPARE(QString::fromStdString(
                         std::filesystem::read_symlink(link.filePath().toStdString()).string()),
                     QStringLiteral("../../blobs/") + QFileInfo(target).fileName());
            if (file.endsWith(QLatin1String(".safetensors"))) // LFS: named by SHA-256
                QCOMPARE(QFileInfo(target).fileName(), sha256Of(m_model + QLatin1Char('/') + file));
            expectSameFile(file);
        }
        QVERIFY(leftovers().isEmpty());

        // A file already in the cache is never fetched again, by branch or by commit.
        m_hub->clear();
        auto again = corolla({QStringLiteral("download"), kRepo});
        QCOMPARE(again.exitCode, 0);
        auto byCommit = corolla({QStringLiteral("download"), kRepo + QLatin1Char('@') + m_commit});
        QCOMPARE(byCommit.exitCode, 0);
        QCOMPARE(lastLine(byCommit.out), snapshot());
        QCOMPARE(m_hub->stats()["get"].toObject().size(), 0);
        QCOMPARE(m_hub->stats()["head"].toObject().size(), 0);
        QVERIFY(
            !QFile::exists(cacheRoot() + QStringLiteral("/models--acme--tiny/refs/") + m_commit));
    }

    void blocksFetchOnlyTheirShards()
    {
        newCache();
        auto run = corolla(
            {QStringLiteral("download"), kRepo, QStringLiteral("--blocks"), QStringLiteral("3:4")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const QSet<QString> needed =
            shardsHolding(m_model, QRegularExpression(QStringLiteral("^model\\.layers\\.3\\.")));
        QVERIFY(!needed.isEmpty() && needed.size() < 3);
        for (int i = 1; i <= 3; ++i) {
            QCOMPARE(QFile::exists(snapshot() + QLatin1Char('/') + shard(i)),
                     needed.contains(shard(i)));
            QCOMPARE(cdnGets(shard(i)), needed.contains(shard(i)) ? 1 : 0);
        }
        for (const QString &file : {QStringLiteral("config.json"), QStringLiteral("tokenizer.json"),
                                    QStringLiteral("model.safetensors.index.json")})
            expectSameFile(file);

        // A client: the embeddings, the final norm and the LM head.
        newCache();
        auto client = corolla({QStringLiteral("download"), kRepo, QStringLiteral("--client")});
        QVERIFY2(client.exitCode == 0, qPrintable(client.err));
        const QSet<QString> head =
            shardsHolding(m_model, QRegularExpression(QStringLiteral("^(?!model\\.layers\\.)")));
        for (int i = 1; i <= 3; ++i)
            QCOMPARE(QFile::exists(snapshot() + QLatin1Char('/') + shard(i)),
                     head.contains(shard(i)));
    }

    void droppedConnectionResumes()
    {
        newCache();
        m_hub->fault({{"file", shard(2)}, {"drop_after", 30000}, {"times", 2}});
        auto run = corolla({QStringLiteral("download"), kRepo});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY2(run.err.contains(QLatin1String("resuming from byte 30000")), qPrintable(run.err));
        // The answer after the break continues where it broke (Qt may retry once on its own
        // first, from the start; either way the bytes end up exact).
        const QJsonArray ranges = m_hub->stats()["ranges"].toArray();
        QVERIFY2(!ranges.isEmpty(), QJsonDocument(ranges).toJson().constData());
        QCOMPARE(ranges[0].toObject()["range"].toString(), QStringLiteral("bytes=30000-"));
        expectSameFile(shard(2));
        QVERIFY(leftovers().isEmpty());
    }

    void interruptedRunResumesInTheNext()
    {
        // Every answer breaks: the run gives up and leaves its partial blob.
        newCache();
        m_hub->fault({{"file", shard(1)}, {"drop_after", 20000}, {"times", 1000}});
        auto failed = corolla({QStringLiteral("download"), kRepo});
        QCOMPARE(failed.exitCode, 1);
        QVERIFY2(failed.err.contains(QLatin1String("connection broke")), qPrintable(failed.err));
        const QStringList partial = leftovers();
        QCOMPARE(partial.size(), 1);
        const qint64 kept = QFileInfo(partial.front()).size();
        QVERIFY(kept > 0);

        m_hub->clear();
        auto resumed = corolla({QStringLiteral("download"), kRepo});
        QVERIFY2(resumed.exitCode == 0, qPrintable(resumed.err));
        const QJsonArray ranges = m_hub->stats()["ranges"].toArray();
        QCOMPARE(ranges.size(), 1);
        QCOMPARE(ranges[0].toObject()["range"].toString(), QStringLiteral("bytes=%1-").arg(kept));
        expectSameFile(shard(1));
        QVERIFY(leftovers().isEmpty());

        // A killed process leaves its partial blob too, and the next run continues it.
        newCache();
        m_hub->fault({{"file", shard(3)}, {"rate", 40000}});
        QProcess *slow = m_processes.start({QStringLiteral("download"), kRepo});
        const QString partialShard = cacheRoot() + QStringLiteral("/models--acme--tiny/blobs/")
                                     + sha256Of(m_model + QLatin1Char('/') + shard(3))
                                     + QStringLiteral(".incomplete");
        while (QFileInfo(partialShard).size() == 0) {
            QVERIFY(slow->state() == QProcess::Running);
            QThread::msleep(20);
        }
        ::kill(pid_t(slow->processId()), SIGKILL);
        slow->waitForFinished();
        const qint64 before = QFileInfo(partialShard).size();
        QVERIFY(before > 0);
        m_hub->clear();
        auto next = corolla({QStringLiteral("download"), kRepo});
        QVERIFY2(next.exitCode == 0, qPrintable(next.err));
        const QJsonArray nextRanges = m_hub->stats()["ranges"].toArray();
        QCOMPARE(nextRanges.size(), 1);
        QCOMPARE(nextRanges[0].toObject()["range"].toString(),
                 QStringLiteral("bytes=%1-").arg(before));
        expectSameFile(shard(3));
    }

    void serverIgnoringRangeRestartsTheFile()
    {
        newCache();
        m_hub->fault(
            {{"file", shard(2)}, {"drop_after", 25000}, {"times", 1}, {"ignore_range", true}});
        auto run = corolla({QStringLiteral("download"), kRepo});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY(!m_hub->stats()["ranges"].toArray().isEmpty()); // asked, answered with 200
        QVERIFY(cdnGets(shard(2)) >= 2);
        expectSameFile(shard(2));
    }

    void corruptedBytesAreDetected()
    {
        newCache();
        m_hub->fault({{"file", shard(3)}, {"corrupt", true}});
        auto run = corolla({QStringLiteral("download"), kRepo});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(QLatin1String("SHA-256")) && run.err.contains(shard(3)),
                 qPrintable(run.err));
        QVERIFY(leftovers().isEmpty()); // the damaged bytes are gone
        QVERIFY(!QFile::exists(snapshot() + QLatin1Char('/') + shard(3)));
        QVERIFY(!QFile::exists(cacheRoot() + QStringLiteral("/models--acme--tiny/blobs/")
                               + sha256Of(m_model + QLatin1Char('/') + shard(3))));
        m_hub->clear();
        auto again = corolla({QStringLiteral("download"), kRepo});
        QVERIFY2(again.exitCode == 0, qPrintable(again.err));
        expectSameFile(shard(3));
    }

    void concurrentDownloadsShareOneTransfer()
    {
        newCache();
        m_hub->fault({{"file", shard(1)}, {"rate", 150000}});
        QProcess *first = m_processes.start({QStringLiteral("download"), kRepo});
        QProcess *second = m_processes.start({QStringLiteral("download"), kRepo});
        for (QProcess *process : {first, second}) {
            process->waitForFinished(300000);
            QCOMPARE(process->exitStatus(), QProcess::NormalExit);
            QVERIFY2(process->exitCode() == 0, qPrintable(m_processes.log(process)));
        }
        QCOMPARE(cdnGets(shard(1)), 1); // the second waited for the first's blob
        expectSameFile(shard(1));
        QVERIFY(leftovers().isEmpty());
    }

    void gatedAndMissingAreExplained()
    {
        newCache();
        auto refused = corolla({QStringLiteral("download"), kGated});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.contains(QLatin1String("gated"))
                     && refused.err.contains(QLatin1String("HF_TOKEN"))
                     && refused.err.contains(QLatin1String("licence")),
                 qPrintable(refused.err));
        m_processes.setEnvironment(QStringLiteral("HF_TOKEN"), QStringLiteral("wrong"));
        QCOMPARE(corolla({QStringLiteral("download"), kGated}).exitCode, 1);
        m_processes.setEnvironment(QStringLiteral("HF_TOKEN"), kToken);
        auto allowed = corolla({QStringLiteral("download"), kGated});
        QVERIFY2(allowed.exitCode == 0, qPrintable(allowed.err));
        m_processes.setEnvironment(QStringLiteral("HF_TOKEN"), {});
        // The token file of huggingface-cli login works as well.
        QDir().mkpath(m_folder.filePath(QStringLiteral("hfhome")));
        QFile tokenFile(m_folder.filePath(QStringLiteral("hfhome/token")));
        QVERIFY(tokenFile.open(QIODevice::WriteOnly));
        tokenFile.write(kToken.toUtf8() + '\n');
        tokenFile.close();
        newCache();
        auto fromFile = corolla({QStringLiteral("download"), kGated});
        QVERIFY2(fromFile.exitCode == 0, qPrintable(fromFile.err));
        tokenFile.remove();
        QCOMPARE(m_hub->stats()["cdn_authorizations"].toInt(), 0); // never sent to the CDN

        auto noRepo = corolla({QStringLiteral("download"), QStringLiteral("acme/nothing")});
        QCOMPARE(noRepo.exitCode, 1);
        QVERIFY2(noRepo.err.contains(QLatin1String("repository acme/nothing not found")),
                 qPrintable(noRepo.err));
        auto noRevision = corolla({QStringLiteral("download"), kRepo + QStringLiteral("@v9")});
        QCOMPARE(noRevision.exitCode, 1);
        QVERIFY2(noRevision.err.contains(QLatin1String("revision not found: acme/tiny@v9")),
                 qPrintable(noRevision.err));
        newCache();
        m_hub->fault({{"file", "tokenizer.json"}, {"missing", true}});
        auto noFile = corolla({QStringLiteral("download"), kRepo});
        QCOMPARE(noFile.exitCode, 1);
        QVERIFY2(noFile.err.contains(QLatin1String("file not found"))
                     && noFile.err.contains(QLatin1String("tokenizer.json")),
                 qPrintable(noFile.err));
        auto badName = corolla({QStringLiteral("download"), QStringLiteral("acme/../etc")});
        QCOMPARE(badName.exitCode, 2);
    }

    void diskSpaceIsCheckedBeforeDownloading()
    {
        newCache();
        m_hub->fault({{"file", shard(2)}, {"announce_size", 1e15}}); // a petabyte
        auto run = corolla({QStringLiteral("download"), kRepo});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(QLatin1String("not enough disk space")), qPrintable(run.err));
        for (int i = 1; i <= 3; ++i)
            QCOMPARE(cdnGets(shard(i)), 0); // refused before the first byte
    }

    void offlineUsesTheCache()
    {
        newCache();
        QCOMPARE(corolla({QStringLiteral("download"), kRepo, QStringLiteral("--blocks"),
                          QStringLiteral("0:1")})
                     .exitCode,
                 0);
        m_hub->clear();
        m_processes.setEnvironment(QStringLiteral("HF_HUB_OFFLINE"), QStringLiteral("1"));
        auto offline = corolla(
            {QStringLiteral("download"), kRepo, QStringLiteral("--blocks"), QStringLiteral("0:1")});
        QVERIFY2(offline.exitCode == 0, qPrintable(offline.err));
        QCOMPARE(lastLine(offline.out), snapshot());
        QCOMPARE(m_hub->stats()["head"].toObject().size(), 0);
        // Blocks whose shards were never fetched cannot be had offline: say which file.
        auto missing = corolla({QStringLiteral("download"), kRepo});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains(QLatin1String("offline"))
                     && missing.err.contains(QLatin1String(".safetensors")),
                 qPrintable(missing.err));
        m_processes.setEnvironment(QStringLiteral("HF_HUB_OFFLINE"), {});
    }

    void generateFromTheHubEqualsTheFolder()
    {
        newCache();
        const QStringList generate{QStringLiteral("generate"),  QStringLiteral("--prompt"),
                                   QStringLiteral("The swarm"), QStringLiteral("--max-new-tokens"),
                                   QStringLiteral("12"),        QStringLiteral("--model")};
        auto fromFolder = corolla(generate + QStringList{m_model});
        QCOMPARE(fromFolder.exitCode, 0);
        auto fromHub = corolla(generate + QStringList{kRepo});
        QVERIFY2(fromHub.exitCode == 0, qPrintable(fromHub.err));
        QCOMPARE(fromHub.out, fromFolder.out);
        QVERIFY(!fromHub.out.isEmpty());
    }

    void serversFetchOnlyTheirShardsAndAgreeOnTheModel()
    {
        // Two servers and a client, each with a cache of its own: each fetches only the shards
        // of its part, and all derive the same model id from the Hub's hashes of every file.
        namespace swarmtest = corolla::swarmtest;
        const QStringList spans{QStringLiteral("0:2"), QStringLiteral("2:4")};
        std::vector<swarmtest::StartedServer> servers;
        for (int i = 0; i < 2; ++i) {
            newCache();
            QProcess *process = m_processes.start(
                swarmtest::serveArguments(kRepo, spans[i], QStringLiteral("hub%1").arg(i), m_folder)
                << QStringLiteral("--events"));
            servers.push_back(swarmtest::waitUntilServing(m_processes, process, spans[i]));
            const int first = spans[i].section(QLatin1Char(':'), 0, 0).toInt();
            const QSet<QString> needed = shardsHolding(
                m_model,
                QRegularExpression(
                    QStringLiteral("^model\\.layers\\.(%1|%2)\\.").arg(first).arg(first + 1)));
            for (int s = 1; s <= 3; ++s)
                QCOMPARE(QFile::exists(snapshot() + QLatin1Char('/') + shard(s)),
                         needed.contains(shard(s)));
        }
        newCache();
        const QStringList generate{QStringLiteral("generate"), QStringLiteral("--ids"),
                                   QStringLiteral("1,5,9,13"), QStringLiteral("--max-new-tokens"),
                                   QStringLiteral("8"),        QStringLiteral("--dtype"),
                                   QStringLiteral("fp32"),     QStringLiteral("--model")};
        auto swarm =
            corolla(generate + QStringList{kRepo}
                    + swarmtest::swarmArguments(swarmtest::writePeersFile(m_folder, servers)));
        QVERIFY2(swarm.exitCode == 0, qPrintable(swarm.err + m_processes.logs()));
        QCOMPARE(swarm.out, corolla(generate + QStringList{m_model}).out);
        const QSet<QString> head =
            shardsHolding(m_model, QRegularExpression(QStringLiteral("^(?!model\\.layers\\.)")));
        for (int s = 1; s <= 3; ++s)
            QCOMPARE(QFile::exists(snapshot() + QLatin1Char('/') + shard(s)),
                     head.contains(shard(s)));
        for (const auto &server : servers)
            m_processes.terminate(server.process);
    }

    void huggingfaceHubFindsWhatCorollaCached()
    {
        QVERIFY2(QFileInfo(QStringLiteral(COROLLA_HUB_PYTHON)).isExecutable(),
                 "no huggingface_hub environment: the pyenv test sets it up");
        newCache();
        QCOMPARE(corolla({QStringLiteral("download"), kRepo}).exitCode, 0);
        auto read = m_processes.runToEnd(
            {QStringLiteral(COROLLA_HUB_INTEROP), QStringLiteral("read"), cacheRoot(), kRepo},
            QStringLiteral(COROLLA_HUB_PYTHON));
        QVERIFY2(read.exitCode == 0, qPrintable(read.err));
        const QJsonObject seen = QJsonDocument::fromJson(read.out).object();
        QCOMPARE(seen["warnings"].toArray().size(), 0);
        const QJsonArray revisions = seen["revisions"].toArray();
        QCOMPARE(revisions.size(), 1);
        const QJsonObject revision = revisions[0].toObject();
        QCOMPARE(revision["commit"].toString(), m_commit);
        QCOMPARE(revision["refs"].toArray(), QJsonArray{QStringLiteral("main")});
        const QJsonObject files = revision["files"].toObject();
        QCOMPARE(QStringList(files.keys()), QDir(m_model).entryList(QDir::Files));
        for (const QString &file : files.keys()) {
            const QString path = files[file].toObject()["path"].toString();
            QCOMPARE(path, snapshot() + QLatin1Char('/') + file);
            QCOMPARE(fileBytes(path), fileBytes(m_model + QLatin1Char('/') + file));
        }
    }

    void corollaUsesOfflineWhatHuggingfaceHubDownloaded()
    {
        QVERIFY2(QFileInfo(QStringLiteral(COROLLA_HUB_PYTHON)).isExecutable(),
                 "no huggingface_hub environment: the pyenv test sets it up");
        newCache();
        auto fetched = m_processes.runToEnd(
            {QStringLiteral(COROLLA_HUB_INTEROP), QStringLiteral("download"), cacheRoot(), kRepo},
            QStringLiteral(COROLLA_HUB_PYTHON));
        QVERIFY2(fetched.exitCode == 0, qPrintable(fetched.err));
        QCOMPARE(lastLine(fetched.out), snapshot());
        m_hub->clear();
        m_processes.setEnvironment(QStringLiteral("HF_HUB_OFFLINE"), QStringLiteral("1"));
        const QStringList generate{QStringLiteral("generate"), QStringLiteral("--prompt"),
                                   QStringLiteral("Offline"),  QStringLiteral("--max-new-tokens"),
                                   QStringLiteral("10"),       QStringLiteral("--model")};
        auto fromCache = corolla(generate + QStringList{kRepo});
        m_processes.setEnvironment(QStringLiteral("HF_HUB_OFFLINE"), {});
        QVERIFY2(fromCache.exitCode == 0, qPrintable(fromCache.err));
        QCOMPARE(fromCache.out, corolla(generate + QStringList{m_model}).out);
        QCOMPARE(m_hub->stats()["head"].toObject().size(), 0); // offline: not one request
        QCOMPARE(m_hub->stats()["get"].toObject().size(), 0);
    }

    void cleanupTestCase() { m_hub.reset(); }
};

QTEST_GUILESS_MAIN(TestDownload)
#include "testdownload.moc"
