// The Hub client's pure parts: model names, globs, which shards hold which blocks, the cache's
// paths and snapshot folders, file names a hostile server could send, and the errors the
// Hub's answers turn into.

#include <QDir>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>

#include "hub/fileselection.h"
#include "hub/hubcache.h"
#include "hub/hubhttp.h"

using namespace corolla;

class TestHubUnits : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void repoNames()
    {
        auto plain = parseRepoRef("TinyLlama/TinyLlama-1.1B-Chat-v1.0");
        QVERIFY(plain);
        QCOMPARE(QString::fromStdString(plain->repo),
                 QStringLiteral("TinyLlama/TinyLlama-1.1B-Chat-v1.0"));
        QCOMPARE(QString::fromStdString(plain->revision), QStringLiteral("main"));
        auto tagged = parseRepoRef("org/name@refs/pr/3");
        QVERIFY(tagged);
        QCOMPARE(QString::fromStdString(tagged->revision), QStringLiteral("refs/pr/3"));
        for (const char *bad : {"name", "a/b/c", "/b", "a/", "a/../b", "a/b--c", "../x", "a/b@",
                                "a/b@../main", "a b/c", "a/.hidden", "a/b@/x"})
            QVERIFY2(!parseRepoRef(bad), bad);
        QVERIFY(isCommitHash("0123456789abcdef0123456789abcdef01234567"));
        QVERIFY(!isCommitHash("0123456789ABCDEF0123456789abcdef01234567"));
    }

    void globs()
    {
        QVERIFY(matchesGlob(QStringLiteral("model-00001-of-00002.safetensors"),
                            QStringLiteral("*.safetensors")));
        QVERIFY(matchesGlob(QStringLiteral("original/params.json"), QStringLiteral("*.json")));
        QVERIFY(matchesGlob(QStringLiteral("tokenizer.json"), QStringLiteral("tokenizer.???n")));
        QVERIFY(matchesGlob(QStringLiteral("a1.bin"), QStringLiteral("a[0-9].bin")));
        QVERIFY(!matchesGlob(QStringLiteral("ab.bin"), QStringLiteral("a[!b].bin")));
        QVERIFY(!matchesGlob(QStringLiteral("config.json"), QStringLiteral("*.safetensors")));
        QVERIFY(matchesGlob(QStringLiteral("a+b(c).txt"), QStringLiteral("a+b(c).txt")));
    }

    void blocksOfTensors()
    {
        QCOMPARE(blockOfTensor("model.layers.17.mlp.up_proj.weight"),
                 std::optional<std::int64_t>(17));
        QCOMPARE(blockOfTensor("h.3.self_attention.dense.bias"), std::optional<std::int64_t>(3));
        QCOMPARE(blockOfTensor("transformer.h.69.mlp.dense_4h_to_h.weight"),
                 std::optional<std::int64_t>(69));
        QCOMPARE(blockOfTensor("model.embed_tokens.weight"), std::nullopt);
        QCOMPARE(blockOfTensor("transformer.ln_f.weight"), std::nullopt);
        QCOMPARE(blockOfTensor("lm_head.weight"), std::nullopt);
        QCOMPARE(blockOfTensor("model.layers_norm.weight"), std::nullopt);
    }

    void shardsForBlocks()
    {
        const std::string index = R"({"metadata": {}, "weight_map": {
            "model.embed_tokens.weight": "a.safetensors",
            "model.layers.0.mlp.up_proj.weight": "a.safetensors",
            "model.layers.1.mlp.up_proj.weight": "b.safetensors",
            "model.layers.10.mlp.up_proj.weight": "c.safetensors",
            "model.norm.weight": "c.safetensors",
            "lm_head.weight": "d.safetensors"}})";
        const QStringList files{"a.safetensors", "b.safetensors", "c.safetensors", "d.safetensors",
                                "config.json"};
        auto pick = [&](FileSelection selection) {
            auto picked = weightFilesFor(selection, files, index);
            return picked ? QStringList(picked->begin(), picked->end()) : QStringList{"error"};
        };
        FileSelection blocks;
        blocks.blocks = std::make_pair(1, 2);
        QCOMPARE(pick(blocks), QStringList({"b.safetensors"}));
        FileSelection client;
        client.clientPart = true;
        QCOMPARE(pick(client), QStringList({"a.safetensors", "c.safetensors", "d.safetensors"}));
        QCOMPARE(pick(FileSelection{}).size(), 4);
        FileSelection none;
        none.weights = false;
        QCOMPARE(pick(none), QStringList());
        // An index naming a shard the repository lacks, or no weight map, is an error.
        QVERIFY(!weightFilesFor({}, {"a.safetensors"}, index));
        QVERIFY(!weightFilesFor({}, files, "{\"weight_map\": 3}"));
        QVERIFY(!weightFilesFor({}, files, "not json"));
        // Without an index: the single file.
        auto single = weightFilesFor(blocks, {"model.safetensors", "config.json"}, "");
        QVERIFY(single && single->size() == 1);
    }

    void hostileFileNames()
    {
        for (const char *bad : {"../../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "./a",
                                "a\\..\\b", "C:/x", ""})
            QVERIFY2(!isSafeRepoPath(QString::fromLatin1(bad)), bad);
        QVERIFY(isSafeRepoPath(QStringLiteral("original/consolidated.00.pth")));
        QVERIFY(isSafeRepoPath(QStringLiteral("model-00001-of-00030.safetensors")));
    }

    void cachePaths()
    {
        QTemporaryDir root;
        const HubCache cache(root.path(), "org/model-x");
        QCOMPARE(cache.folderName(), QStringLiteral("models--org--model-x"));
        QCOMPARE(cache.lockPath(QStringLiteral("abc")),
                 root.path() + QStringLiteral("/.locks/models--org--model-x/abc.lock"));
        const QString commit = QStringLiteral("0123456789abcdef0123456789abcdef01234567");
        QVERIFY(cache.writeRef("main", commit));
        QCOMPARE(cache.commitFor("main"), std::optional<QString>(commit));
        QCOMPARE(cache.commitFor("other"), std::nullopt);
        QVERIFY(cache.writeRef(commit.toStdString(), commit)); // a commit needs no ref
        QVERIFY(!QFile::exists(cache.repoFolder() + QStringLiteral("/refs/") + commit));

        QDir().mkpath(cache.repoFolder() + QStringLiteral("/blobs"));
        QFile blob(cache.blobPath(QStringLiteral("e1")));
        QVERIFY(blob.open(QIODevice::WriteOnly));
        blob.write("bytes");
        blob.close();
        QVERIFY(
            cache.linkSnapshotFile(commit, QStringLiteral("sub/dir/f.json"), QStringLiteral("e1")));
        QCOMPARE(QFile::symLinkTarget(cache.snapshotFile(commit, QStringLiteral("sub/dir/f.json"))),
                 QFileInfo(blob).absoluteFilePath());
        QVERIFY(cache.hasFile(commit, QStringLiteral("sub/dir/f.json")));
        QCOMPARE(cache.commitFor(commit.toStdString()), std::optional<QString>(commit));

        const auto location = snapshotLocation(cache.snapshotFolder(commit));
        QVERIFY(location);
        QCOMPARE(QString::fromStdString(location->repo), QStringLiteral("org/model-x"));
        QCOMPARE(location->commit, commit);
        QCOMPARE(location->root, QDir(root.path()).absolutePath());
        QVERIFY(!snapshotLocation(root.path()));
        QVERIFY(!snapshotLocation(cache.repoFolder() + QStringLiteral("/snapshots/notacommit")));
    }

    void environment()
    {
        qputenv("HF_HOME", "/tmp/hf-home-test");
        qunsetenv("HF_HUB_CACHE");
        QCOMPARE(defaultHubCacheRoot(), QStringLiteral("/tmp/hf-home-test/hub"));
        qputenv("HF_HUB_CACHE", "/tmp/elsewhere");
        QCOMPARE(defaultHubCacheRoot(), QStringLiteral("/tmp/elsewhere"));
        qunsetenv("HF_HOME");
        qunsetenv("HF_HUB_CACHE");
        qputenv("XDG_CACHE_HOME", "/tmp/xdg-test");
        QCOMPARE(defaultHubCacheRoot(), QStringLiteral("/tmp/xdg-test/huggingface/hub"));
        qputenv("HF_ENDPOINT", "http://mirror.example/");
        QCOMPARE(hubEndpoint(), QStringLiteral("http://mirror.example"));
        qputenv("HF_HUB_OFFLINE", "yes");
        QVERIFY(hubOfflineRequested());
        qputenv("HF_HUB_OFFLINE", "0");
        QVERIFY(!hubOfflineRequested());
    }

    void hubErrors()
    {
        const QUrl url(QStringLiteral("https://huggingface.co/api/models/a/b/revision/main"));
        Error gated = hubHttpError(401, "GatedRepo", {}, "a/b", url);
        QCOMPARE(gated.code, ErrorCode::PermissionDenied);
        QVERIFY(QString::fromStdString(gated.message).contains(QLatin1String("licence")));
        QCOMPARE(hubHttpError(404, "RepoNotFound", {}, "a/b", url).code, ErrorCode::NotFound);
        QVERIFY(QString::fromStdString(hubHttpError(401, "RepoNotFound", {}, "a/b", url).message)
                    .contains(QLatin1String("private")));
        QVERIFY(QString::fromStdString(
                    hubHttpError(404, "EntryNotFound", {}, "a/b: x.json", url).message)
                    .contains(QLatin1String("x.json")));
        const Error server = hubHttpError(503, {}, "overloaded", "a/b", url);
        QCOMPARE(server.code, ErrorCode::Io);
        QVERIFY(QString::fromStdString(server.message).contains(QLatin1String("503")));
        QVERIFY(QString::fromStdString(server.message).contains(QLatin1String("overloaded")));
    }
};

QTEST_GUILESS_MAIN(TestHubUnits)
#include "testhubunits.moc"
