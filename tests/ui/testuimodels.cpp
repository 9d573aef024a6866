// The item models of the window (peers, block map, conversations) under
// QAbstractItemModelTester, and the typed settings across restarts.

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QFile>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include "ui/blockmapmodel.h"
#include "ui/conversationsmodel.h"
#include "ui/peersmodel.h"
#include "ui/settings.h"
#include "ui/settingspage.h"

using namespace corolla;

namespace {

PeerInfo peer(const QString &id, qint64 start, qint64 end, double throughput)
{
    PeerInfo info;
    info.peerId = id;
    info.publicName = QStringLiteral("name-") + id;
    info.version = QStringLiteral("0.1.0");
    info.state = PeerState::Online;
    info.start = start;
    info.end = end;
    info.throughput = throughput;
    info.dtype = QStringLiteral("bf16");
    info.quantization = QStringLiteral("none");
    info.cacheTokensLeft = 1000;
    return info;
}

QStringList peerIds(const PeersModel &model)
{
    QStringList ids;
    for (int row = 0; row < model.rowCount(); ++row)
        ids.push_back(model.peer(row).peerId);
    return ids;
}

std::unique_ptr<QSettings> iniSettings(const QTemporaryDir &folder)
{
    return std::make_unique<QSettings>(folder.filePath(QStringLiteral("settings.ini")),
                                       QSettings::IniFormat);
}

} // namespace

class TestUiModels : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void peersModelKeepsRowsOfPeersThatStay();
    void peersSortAsNumbers();
    void blockMapFollowsTheSwarm();
    void conversationsSurviveARestart();
    void unreadableConversationsAreSetAside();
    void settingsPersistAcrossRestarts();
    void settingsPageRefusesBadAddresses();
    void settingsPageStoresTheApiServer();
    void startAtLoginWritesAnAutostartEntry();
};

void TestUiModels::peersModelKeepsRowsOfPeersThatStay()
{
    PeersModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    model.setPeers({peer("a", 0, 4, 10), peer("b", 4, 8, 20)});
    QCOMPARE(peerIds(model), QStringList({"a", "b"}));
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    // a leaves, b changes, c joins: b keeps its row object, nothing is reset.
    PeerInfo packed = peer("c", 0, 4, 5);
    packed.quantization = QStringLiteral("nf4");
    packed.adapters = QStringList{QStringLiteral("org/lora-a"), QStringLiteral("lora-b")};
    model.setPeers({peer("b", 4, 8, 25), packed});
    QCOMPARE(peerIds(model), QStringList({"b", "c"}));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(reset.count(), 0);
    QCOMPARE(model.data(model.index(0, PeersModel::Throughput), Qt::UserRole).toDouble(), 25.0);
    QCOMPARE(model.data(model.index(0, PeersModel::Blocks)).toString(), QStringLiteral("4–7"));
    QCOMPARE(model.data(model.index(1, PeersModel::Ping)).toString(), QStringLiteral("—"));
    // How each holds its blocks: unpacked in its dtype, or packed.
    QCOMPARE(model.data(model.index(0, PeersModel::Weights)).toString(), QStringLiteral("bf16"));
    QCOMPARE(model.data(model.index(1, PeersModel::Weights)).toString(), QStringLiteral("NF4"));
    QCOMPARE(model.headerData(PeersModel::Weights, Qt::Horizontal).toString(),
             QStringLiteral("Weights"));
    // The LoRA adapters each serves, if any.
    QCOMPARE(model.data(model.index(0, PeersModel::Adapters)).toString(), QStringLiteral("—"));
    QCOMPARE(model.data(model.index(1, PeersModel::Adapters)).toString(),
             QStringLiteral("org/lora-a, lora-b"));
    QCOMPARE(model.headerData(PeersModel::Adapters, Qt::Horizontal).toString(),
             QStringLiteral("Adapters"));
    model.setPeers({});
    QCOMPARE(model.rowCount(), 0);
}

void TestUiModels::peersSortAsNumbers()
{
    PeersModel model;
    QSortFilterProxyModel sorted;
    sorted.setSourceModel(&model);
    sorted.setSortRole(Qt::UserRole);
    QAbstractItemModelTester tester(&sorted, QAbstractItemModelTester::FailureReportingMode::Fatal);
    sorted.sort(PeersModel::Throughput, Qt::DescendingOrder);
    model.setPeers({peer("a", 0, 2, 9), peer("b", 2, 4, 100), peer("c", 4, 6, 20)});
    QStringList order;
    for (int row = 0; row < sorted.rowCount(); ++row)
        order.push_back(
            sorted.data(sorted.index(row, PeersModel::PeerId), Qt::UserRole).toString());
    // As text "9" would sort above "20" and "100".
    QCOMPARE(order, QStringList({"b", "c", "a"}));
}

void TestUiModels::blockMapFollowsTheSwarm()
{
    BlockMapModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
    QList<BlockInfo> blocks(8);
    model.setBlocks(blocks);
    QCOMPARE(model.rowCount(), 8);
    QVERIFY(model.describe(3).contains(QStringLiteral("no server")));
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    blocks[3] = {2, 41.5, true};
    model.setBlocks(blocks);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.data(model.index(3, BlockMapModel::Servers)).toInt(), 2);
    QCOMPARE(model.data(model.index(3, BlockMapModel::ServedHere)).toBool(), true);
    QVERIFY(model.describe(3).contains(QStringLiteral("41.5")));
    QVERIFY(model.describe(3).contains(QStringLiteral("this computer")));
    QCOMPARE(model.maxThroughput(), 41.5);
    model.setBlocks(QList<BlockInfo>(24)); // another model
    QCOMPARE(model.rowCount(), 24);
}

void TestUiModels::conversationsSurviveARestart()
{
    QTemporaryDir folder;
    const QString path = folder.filePath(QStringLiteral("conversations.json"));
    {
        ConversationsModel model(path);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::Fatal);
        QString error;
        QVERIFY(model.load(&error));
        model.create(QStringLiteral("be brief"));
        const int row = model.create(QString());
        SavedConversation conversation = model.at(row);
        conversation.title = QStringLiteral("你好");
        SavedMessage answer{ChatRole::Assistant, QStringLiteral("hi\nthere")};
        answer.timeToFirstTokenSeconds = 0.25;
        answer.tokensPerSecond = 12.5;
        answer.tokens = 7;
        answer.route = QStringLiteral("0–3 a, 4–7 b");
        answer.stopped = true;
        conversation.messages = {{ChatRole::User, QStringLiteral("hello")}, answer};
        model.update(row, conversation);
        QCOMPARE(model.rowCount(), 2);
        model.remove(5); // out of range: nothing happens
        QCOMPARE(model.rowCount(), 2);
    }
    ConversationsModel restored(path);
    QAbstractItemModelTester tester(&restored,
                                    QAbstractItemModelTester::FailureReportingMode::Fatal);
    QString error;
    QVERIFY2(restored.load(&error), qPrintable(error));
    QCOMPARE(restored.rowCount(), 2);
    QCOMPARE(restored.data(restored.index(0)).toString(), QStringLiteral("你好"));
    QCOMPARE(restored.at(1).systemPrompt, QStringLiteral("be brief"));
    const SavedMessage &answer = restored.at(0).messages.at(1);
    QCOMPARE(answer.content, QStringLiteral("hi\nthere"));
    QCOMPARE(answer.tokens, 7);
    QCOMPARE(answer.tokensPerSecond, 12.5);
    QCOMPARE(answer.route, QStringLiteral("0–3 a, 4–7 b"));
    QVERIFY(answer.stopped);
    QCOMPARE(restored.rowOf(restored.at(1).id), 1);
    restored.remove(0);
    QCOMPARE(restored.rowCount(), 1);
}

void TestUiModels::unreadableConversationsAreSetAside()
{
    // Cut off mid-file, and a message whose role is none of ours.
    const QList<QByteArray> contents{
        "{\"version\": 1, \"conversations\": [ {\"title\": ",
        "{\"version\": 1, \"conversations\": [ {\"title\": \"t\", \"messages\": [ {\"role\": "
        "\"robot\", "
        "\"content\": \"hi\"} ] } ] }",
    };
    for (const QByteArray &content : contents) {
        QTemporaryDir folder;
        const QString path = folder.filePath(QStringLiteral("conversations.json"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(content);
        file.close();
        ConversationsModel model(path);
        QString error;
        QVERIFY(!model.load(&error));
        QVERIFY2(error.contains(QStringLiteral(".unreadable")), qPrintable(error));
        QCOMPARE(model.rowCount(), 0);
        // The user's file is kept, not overwritten by the next save.
        QVERIFY(QFile::exists(path + QStringLiteral(".unreadable")));
        model.create(QString());
        QFile kept(path + QStringLiteral(".unreadable"));
        QVERIFY(kept.open(QIODevice::ReadOnly));
        QCOMPARE(kept.readAll(), content);
    }
}

void TestUiModels::settingsPersistAcrossRestarts()
{
    QTemporaryDir folder;
    {
        Settings settings(iniSettings(folder));
        QCOMPARE(settings.lanDiscovery.get(), true); // defaults before anything is stored
        QCOMPARE(settings.dtype.get(), QStringLiteral("bf16"));
        QCOMPARE(settings.quantization.get(), QStringLiteral("none"));
        QCOMPARE(settings.donateSettings().quantization, Quantization::None);
        settings.modelDir = QStringLiteral("/models/llama");
        settings.dhtBootstrap = QStringList({"a.example:4000", "10.0.0.2:4001"});
        settings.lanDiscovery = false;
        settings.port = 31337;
        settings.publicName = QStringLiteral("小明");
        settings.donate = true;
        settings.memoryBudgetMiB = 4096;
        settings.blockCount = 3;
        settings.quantization = QStringLiteral("nf4");
        settings.closeToTray = false;
        settings.language = QStringLiteral("zh_CN");
        settings.setSampling({0.3, 0.8, 12, 99, 42});
        settings.sync();
    }
    Settings settings(iniSettings(folder));
    QCOMPARE(settings.modelDir.get(), QStringLiteral("/models/llama"));
    QCOMPARE(settings.dhtBootstrap.get(), QStringList({"a.example:4000", "10.0.0.2:4001"}));
    QCOMPARE(settings.lanDiscovery.get(), false);
    QCOMPARE(settings.port.get(), 31337);
    QCOMPARE(settings.publicName.get(), QStringLiteral("小明"));
    QCOMPARE(settings.donate.get(), true);
    QCOMPARE(settings.closeToTray.get(), false);
    QCOMPARE(settings.language.get(), QStringLiteral("zh_CN"));
    const SwarmSettings swarm = settings.swarmSettings();
    QCOMPARE(swarm.port, quint16(31337));
    QCOMPARE(swarm.lan, false);
    const DonateSettings donate = settings.donateSettings();
    QCOMPARE(donate.memoryBudgetBytes, qint64(4096) << 20);
    QCOMPARE(donate.blockCount, 3);
    QCOMPARE(donate.quantization, Quantization::Nf4);
    const SamplingSettings sampling = settings.sampling();
    QCOMPARE(sampling.temperature, 0.3);
    QCOMPARE(sampling.topK, 12);
    QCOMPARE(sampling.maxTokens, 99);
    QCOMPARE(sampling.seed, qint64(42));
}

void TestUiModels::settingsPageRefusesBadAddresses()
{
    QTemporaryDir folder;
    Settings settings(iniSettings(folder));
    SettingsPage page(settings);
    auto *bootstrap = page.findChild<QLineEdit *>(QStringLiteral("dhtBootstrap"));
    QVERIFY(bootstrap);
    QSignalSpy applied(&page, &SettingsPage::applied);

    bootstrap->setText(QStringLiteral("bootstrap.example.org"));
    QVERIFY(!page.apply());
    QCOMPARE(applied.count(), 0);
    QVERIFY(settings.dhtBootstrap.get().isEmpty()); // nothing stored from a refused form

    auto *staticPeers = page.findChild<QPlainTextEdit *>(QStringLiteral("staticPeers"));
    bootstrap->setText(QStringLiteral("bootstrap.example.org:4222, 192.168.1.5:4222"));
    staticPeers->setPlainText(
        QStringLiteral("# home\n192.168.1.7:31330 PeerXyz\nnot an address\n"));
    QVERIFY(!page.apply());

    staticPeers->setPlainText(QStringLiteral("# home\n192.168.1.7:31330 PeerXyz\n"));
    QVERIFY(page.apply());
    QCOMPARE(applied.count(), 1);
    QCOMPARE(settings.dhtBootstrap.get(),
             QStringList({"bootstrap.example.org:4222", "192.168.1.5:4222"}));
    QCOMPARE(settings.staticPeers.get(), QStringLiteral("# home\n192.168.1.7:31330 PeerXyz\n"));

    // A folder without config.json is not a model.
    page.findChild<QLineEdit *>(QStringLiteral("modelDir"))->setText(folder.path());
    QVERIFY(!page.apply());
}

void TestUiModels::settingsPageStoresTheApiServer()
{
    QTemporaryDir folder;
    Settings settings(iniSettings(folder));
    QCOMPARE(settings.apiSettings(), ApiSettings()); // off by default
    QVERIFY(!settings.apiSettings().enabled);
    SettingsPage page(settings);
    auto *enabled = page.findChild<QCheckBox *>(QStringLiteral("apiEnabled"));
    auto *port = page.findChild<QSpinBox *>(QStringLiteral("apiPort"));
    auto *key = page.findChild<QLineEdit *>(QStringLiteral("apiKey"));
    QVERIFY(enabled && port && key);
    QVERIFY(!enabled->isChecked());
    QCOMPARE(port->value(), 8080);

    enabled->setChecked(true);
    port->setValue(8181);
    key->setText(QStringLiteral("two words"));
    QVERIFY(!page.apply()); // a key is one header token
    QVERIFY(!settings.apiEnabled);
    key->setText(QStringLiteral(" sk-local-1 "));
    QVERIFY(page.apply());
    QCOMPARE(settings.apiSettings(), (ApiSettings{true, 8181, QStringLiteral("sk-local-1")}));

    // The block server's port is taken by the block server.
    settings.port = 8181;
    SettingsPage reopened(settings);
    QVERIFY(reopened.findChild<QCheckBox *>(QStringLiteral("apiEnabled"))->isChecked());
    QVERIFY(!reopened.apply());
}

void TestUiModels::startAtLoginWritesAnAutostartEntry()
{
    QTemporaryDir folder;
    qputenv("XDG_CONFIG_HOME", folder.filePath(QStringLiteral("config")).toUtf8());
    Settings settings(iniSettings(folder));
    SettingsPage page(settings);
    auto *startAtLogin = page.findChild<QCheckBox *>(QStringLiteral("startAtLogin"));
    QVERIFY(startAtLogin);
    QVERIFY(!startAtLogin->isChecked());
    startAtLogin->setChecked(true);
    QVERIFY(page.apply());
    QFile entry(folder.filePath(QStringLiteral("config/autostart/corolla.desktop")));
    QVERIFY(entry.open(QIODevice::ReadOnly));
    const QString text = QString::fromUtf8(entry.readAll());
    QVERIFY2(text.contains(QStringLiteral("Exec=\"") + QCoreApplication::applicationFilePath()
                           + QStringLiteral("\" --minimized")),
             qPrintable(text));
    QVERIFY(settings.startAtLogin.get());
    SettingsPage reopened(settings); // reads what the system will do
    QVERIFY(reopened.findChild<QCheckBox *>(QStringLiteral("startAtLogin"))->isChecked());
    startAtLogin->setChecked(false);
    QVERIFY(page.apply());
    QVERIFY(!QFile::exists(entry.fileName()));
    qunsetenv("XDG_CONFIG_HOME");
}

QTEST_MAIN(TestUiModels)
#include "testuimodels.moc"
