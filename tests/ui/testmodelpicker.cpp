// The app's model picker: the catalog's sizes against the models' published parameter
// counts, and a download from a Hub served by the test (real HTTP on 127.0.0.1) that makes
// the model the one Contribute and Chat use; cancel keeps the partial file, and a download
// the last run did not finish resumes at the next start.

#include <QDirIterator>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

#include "facade/engine.h"
#include "facade/modelcatalog.h"
#include "hub/testhubserver.h"
#include "tools/peerprocesses.h"
#include "ui/downloadcontroller.h"
#include "ui/mainwindow.h"
#include "ui/modelpicker.h"
#include "ui/settings.h"
#include "ui/systemconditions.h"

using namespace corolla;

namespace {

constexpr int kTimeoutMs = 180000; // generous: a loaded CI machine, not a speed limit

const CatalogModel *findModel(const QList<CatalogModel> &models, const QString &id)
{
    for (const CatalogModel &model : models)
        if (model.id == id)
            return &model;
    return nullptr;
}

QStringList partialFiles(const QString &root)
{
    QStringList found;
    QDirIterator it(root, {QStringLiteral("*.incomplete")}, QDir::Files,
                    QDirIterator::Subdirectories);
    while (it.hasNext())
        found.push_back(it.next());
    return found;
}

} // namespace

class TestModelPicker : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void catalogSizesMatchPublishedParameterCounts()
    {
        const QList<CatalogModel> models = ModelPicker::catalog();
        QFile file(QStringLiteral(":/models/catalog.json"));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const int entries = QJsonDocument::fromJson(file.readAll())["models"].toArray().size();
        QCOMPARE(models.size(), entries); // every entry is a model Corolla can run
        // bf16: two bytes a parameter. Published counts: TinyLlama 1,100,048,384; Llama-2-7B
        // 6,738,415,616; BLOOM-560m 559,214,592; Qwen3-8B 8,190,735,360 (its q/k norms
        // included); Gemma-2-9B 9,241,705,984 (four norms a block); Gemma-3-1B 999,885,952
        // (q/k norms too); Mixtral-8x7B 46,702,792,704 (every expert); Falcon-7B
        // 6,921,720,704 (LayerNorms with biases). Gemma holds its block
        // norms' scales in fp32: two more bytes for each of their values.
        QCOMPARE(findModel(models, QStringLiteral("TinyLlama/TinyLlama-1.1B-Chat-v1.0"))->bytesBf16,
                 2 * 1100048384LL);
        QCOMPARE(findModel(models, QStringLiteral("meta-llama/Llama-2-7b-chat-hf"))->bytesBf16,
                 2 * 6738415616LL);
        QCOMPARE(findModel(models, QStringLiteral("bigscience/bloom-560m"))->bytesBf16,
                 2 * 559214592LL);
        QCOMPARE(findModel(models, QStringLiteral("Qwen/Qwen3-8B"))->bytesBf16, 2 * 8190735360LL);
        QCOMPARE(findModel(models, QStringLiteral("google/gemma-2-9b-it"))->bytesBf16,
                 2 * 9241705984LL + 42 * (4 * 3584) * 2);
        QCOMPARE(findModel(models, QStringLiteral("google/gemma-3-1b-it"))->bytesBf16,
                 2 * 999885952LL + 26 * (4 * 1152 + 2 * 256) * 2);
        QCOMPARE(
            findModel(models, QStringLiteral("mistralai/Mixtral-8x7B-Instruct-v0.1"))->bytesBf16,
            2 * 46702792704LL);
        for (const CatalogModel &model : models) {
            QVERIFY2(model.blocks > 0, qPrintable(model.id));
            QVERIFY2(model.bytesInt8 > 0 && model.bytesInt8 < model.bytesBf16,
                     qPrintable(model.id));
            QVERIFY2(model.bytesNf4 < model.bytesInt8, qPrintable(model.id));
        }
        QString error;
        QVERIFY(parseModelCatalog("{\"models\": [{\"id\": \"x/y\", \"config\": {\"model_type\": "
                                  "\"gpt2\"}}]}",
                                  &error)
                    .isEmpty());
        QVERIFY2(error.contains(QLatin1String("gpt2")), qPrintable(error));
    }

    void pickerDownloadsTheModelTheAppThenUses()
    {
        QVERIFY(m_folder.isValid());
        PeerProcesses processes(QStringLiteral(COROLLA_BINARY));
        const QString model = m_folder.filePath(QStringLiteral("model"));
        QCOMPARE(processes
                     .run({QStringLiteral("make-test-model"), QStringLiteral("--family"),
                           QStringLiteral("llama"), QStringLiteral("--shards"), QStringLiteral("3"),
                           QStringLiteral("--out"), model})
                     .first,
                 0);
        corolla::testing::TestHubServer hub(
            processes, QStringLiteral(COROLLA_TESTHUB),
            {QStringLiteral("--repo"), QStringLiteral("acme/tiny=") + model});
        QVERIFY(hub.isRunning());
        const QString commit = hub.modelInfo(QStringLiteral("acme/tiny"))["sha"].toString();
        qputenv("HF_ENDPOINT", hub.url().toUtf8());
        qputenv("XDG_CACHE_HOME", m_folder.filePath(QStringLiteral("xdg")).toUtf8());
        const QString cache = m_folder.filePath(QStringLiteral("cache"));
        qputenv("HF_HUB_CACHE", cache.toUtf8());

        Settings settings(std::make_unique<QSettings>(
            m_folder.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat));
        settings.lanDiscovery = false;
        Engine engine(m_folder.filePath(QStringLiteral("app")));
        MainWindow window(engine, settings, m_folder.path(), std::make_unique<SystemConditions>());
        window.connectToSwarm();

        ModelPicker &picker = *window.modelPicker();
        picker.show();
        picker.repoEdit()->setText(QStringLiteral("acme/tiny"));
        picker.findChild<QPushButton *>(QStringLiteral("downloadModel"))->click();
        const QString snapshot = cache + QStringLiteral("/models--acme--tiny/snapshots/") + commit;
        QTRY_COMPARE_WITH_TIMEOUT(settings.modelDir.get(), snapshot, kTimeoutMs);
        QCOMPARE(settings.pendingDownload.get(), QString());
        QVERIFY(picker.findChild<QLabel *>(QStringLiteral("downloadStatus"))
                    ->text()
                    .contains(QLatin1String("ready")));
        // The app joins the model's swarm: config, id and client part from the snapshot.
        QTRY_VERIFY_WITH_TIMEOUT(engine.status().numBlocks == 4
                                     && engine.status().modelName == QLatin1String("acme/tiny"),
                                 kTimeoutMs);
        // Chatting needs the embeddings and the LM head only: no shard holds just blocks.
        QVERIFY(QFile::exists(snapshot + QStringLiteral("/config.json")));
        QVERIFY(QFile::exists(snapshot + QStringLiteral("/tokenizer.json")));

        // Cancel: the partial file stays, nothing resumes at the next start.
        const QString cache2 = m_folder.filePath(QStringLiteral("cache2"));
        qputenv("HF_HUB_CACHE", cache2.toUtf8());
        hub.fault({{"file", "model-00001-of-00003.safetensors"}, {"rate", 20000}});
        DownloadController &downloads = *window.downloads();
        QVERIFY(downloads.start(QStringLiteral("acme/tiny")));
        QTRY_VERIFY_WITH_TIMEOUT(!partialFiles(cache2).isEmpty()
                                     && QFileInfo(partialFiles(cache2).front()).size() > 0,
                                 kTimeoutMs);
        QSignalSpy changed(&downloads, &DownloadController::statusChanged);
        downloads.cancel();
        QTRY_VERIFY_WITH_TIMEOUT(downloads.status().state == DownloadState::Cancelled, kTimeoutMs);
        QCOMPARE(settings.pendingDownload.get(), QString());
        QCOMPARE(partialFiles(cache2).size(), 1);
        QCOMPARE(settings.modelDir.get(), snapshot); // the model in use stays

        // A download the last run did not finish resumes at the next start, from its partial.
        hub.clear();
        settings.pendingDownload = QStringLiteral("acme/tiny");
        DownloadController nextStart(engine, settings);
        nextStart.resumePending();
        const QString snapshot2 =
            cache2 + QStringLiteral("/models--acme--tiny/snapshots/") + commit;
        QTRY_COMPARE_WITH_TIMEOUT(settings.modelDir.get(), snapshot2, kTimeoutMs);
        QVERIFY(partialFiles(cache2).isEmpty());
        QVERIFY(!hub.stats()["ranges"].toArray().isEmpty()); // continued, not started over
        QCOMPARE(settings.pendingDownload.get(), QString());
    }

private:
    QTemporaryDir m_folder;
};

QTEST_MAIN(TestModelPicker)
#include "testmodelpicker.moc"
