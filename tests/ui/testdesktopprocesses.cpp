// The desktop app against separate `corolla serve` processes on 127.0.0.1: the swarm page
// lists them, the chat answers through them, Stop works while a frozen server keeps an answer
// waiting (and the window stays live meanwhile), and when a server is gone the chat says
// which blocks are missing and what to do.

#include <csignal>

#include <QDeadlineTimer>
#include <QFile>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

#include "facade/engine.h"
#include "tools/peerprocesses.h"
#include "ui/chatpage.h"
#include "ui/mainwindow.h"
#include "ui/peersmodel.h"
#include "ui/settings.h"
#include "ui/swarmpage.h"
#include "ui/systemconditions.h"

using namespace corolla;

namespace {

constexpr int kTimeoutMs = 180000; // generous: a loaded CI machine, not a speed limit

struct Server {
    QProcess *process = nullptr;
    QString line; // "127.0.0.1:PORT PEER_ID" for the static peers list
};

} // namespace

class TestDesktopProcesses : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void chatsThroughServeProcesses();

private:
    Server startServer(PeerProcesses &peers, const QString &model, const QString &blocks,
                       const QString &name);
    QTemporaryDir m_folder;
};

Server TestDesktopProcesses::startServer(PeerProcesses &peers, const QString &model,
                                         const QString &blocks, const QString &name)
{
    const QString noPeers = m_folder.filePath(QStringLiteral("no-peers.txt"));
    QFile(noPeers).open(QIODevice::WriteOnly);
    Server server;
    // Records live two announce periods; the app's view asks the static peers every second,
    // so a period of 1 s let a record expire between two answers on a busy machine and the
    // peers table blink. 3 s keeps that margin while beta's record still expires quickly.
    server.process = peers.start(
        {QStringLiteral("serve"), QStringLiteral("--model"), model, QStringLiteral("--blocks"),
         blocks, QStringLiteral("--listen"), QStringLiteral("127.0.0.1"),
         QStringLiteral("--static-peers"), noPeers, QStringLiteral("--public-name"), name,
         QStringLiteral("--announce-period"), QStringLiteral("3"), QStringLiteral("--identity"),
         m_folder.filePath(name + QStringLiteral(".pem")), QStringLiteral("--events")});
    if (peers.waitForEvent(server.process, "serving", kTimeoutMs).empty())
        qFatal("server %s did not start:\n%s", qPrintable(name),
               qPrintable(peers.log(server.process)));
    const nlohmann::json address = peers.lastEvent(server.process, "listening");
    server.line = QStringLiteral("127.0.0.1:%1 %2")
                      .arg(address["port"].get<int>())
                      .arg(QString::fromStdString(address["peer_id"].get<std::string>()));
    return server;
}

void TestDesktopProcesses::chatsThroughServeProcesses()
{
    PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
    const QString model = m_folder.filePath(QStringLiteral("model"));
    QCOMPARE(peers
                 .run({QStringLiteral("make-test-model"), QStringLiteral("--family"),
                       QStringLiteral("llama"), QStringLiteral("--shape"), QStringLiteral("demo"),
                       QStringLiteral("--out"), model})
                 .first,
             0);
    const Server alpha = startServer(peers, model, QStringLiteral("0:4"), QStringLiteral("alpha"));
    const Server beta = startServer(peers, model, QStringLiteral("4:8"), QStringLiteral("beta"));

    Settings settings(std::make_unique<QSettings>(m_folder.filePath(QStringLiteral("settings.ini")),
                                                  QSettings::IniFormat));
    settings.modelDir = model;
    settings.lanDiscovery = false;
    settings.staticPeers = alpha.line + QLatin1Char('\n') + beta.line + QLatin1Char('\n');
    settings.maxTokens = 16;
    Engine engine(m_folder.filePath(QStringLiteral("app")));
    MainWindow window(engine, settings, m_folder.path(), std::make_unique<SystemConditions>());
    window.connectToSwarm();

    QTRY_VERIFY_WITH_TIMEOUT(engine.status().chatReady && engine.status().numBlocks == 8
                                 && engine.status().missingBlocks.isEmpty(),
                             kTimeoutMs);
    QVERIFY(!window.isOfferingDemo());
    const PeersModel &peersModel = *window.swarmPage()->peersModel();
    QCOMPARE(peersModel.rowCount(), 2);
    QStringList names{peersModel.peer(0).publicName, peersModel.peer(1).publicName};
    names.sort();
    QCOMPARE(names, QStringList({"alpha", "beta"}));
    // Pings are measured every few seconds by the chat side.
    QTRY_VERIFY_WITH_TIMEOUT(peersModel.peer(0).pingMs >= 0 && peersModel.peer(1).pingMs >= 0,
                             kTimeoutMs);

    ChatPage &chat = *window.chatPage();
    QSignalSpy finished(&chat, &ChatPage::answerFinished);
    chat.send(QStringLiteral("Hello, processes!"));
    QVERIFY(finished.wait(kTimeoutMs));
    ChatResult result = finished.takeFirst().at(0).value<ChatResult>();
    QVERIFY2(result.error == ChatError::None, qPrintable(result.message));
    QVERIFY(result.generatedTokens > 0);
    QCOMPARE(result.route.size(), 2);
    QCOMPARE(result.route[0].publicName, QStringLiteral("alpha"));
    QCOMPARE(result.route[1].publicName, QStringLiteral("beta"));

    // Settings applied with nothing changed: the local API server keeps running (a restart
    // would cut its open streams), the peers and the chat stay.
    engine.configureApi({true, freeTcpPort(), QString()});
    QTRY_VERIFY_WITH_TIMEOUT(engine.apiStatus().state == ApiState::Listening, kTimeoutMs);
    QSignalSpy apiChanges(&engine, &Engine::apiChanged);
    QSignalSpy afterApply(&engine, &Engine::statusChanged);
    window.connectToSwarm();
    QTRY_VERIFY_WITH_TIMEOUT(afterApply.count() >= 3, kTimeoutMs);
    for (const QList<QVariant> &arguments : apiChanges)
        QCOMPARE(int(arguments.at(0).value<ApiStatus>().state), int(ApiState::Listening));
    for (const QList<QVariant> &arguments : afterApply) {
        const EngineStatus status = arguments.at(0).value<EngineStatus>();
        QVERIFY(status.chatReady);
        QCOMPARE(status.peers.size(), 2);
    }
    engine.configureApi({false, 0, QString()});

    // beta stops answering mid-answer: the window and the engine go on (status snapshots keep
    // coming), and Stop ends the answer while it waits, long before the step would time out.
    QSignalSpy statuses(&engine, &Engine::statusChanged);
    QMetaObject::Connection freeze;
    freeze = connect(&engine, &Engine::chatChunk, this, [&] {
        if (::kill(pid_t(beta.process->processId()), SIGSTOP) == 0)
            disconnect(freeze);
    });
    chat.newConversation();
    window.findChild<QSpinBox *>(QStringLiteral("maxTokens"))->setValue(400);
    chat.send(QStringLiteral("Keep talking."));
    QTRY_VERIFY_WITH_TIMEOUT(
        statuses.count() >= 4 && chat.isAnswering() && !chat.streamingText().isEmpty(), kTimeoutMs);
    const int statusesBeforeStop = int(statuses.count());
    QTRY_VERIFY_WITH_TIMEOUT(statuses.count() >= statusesBeforeStop + 4, kTimeoutMs);
    QVERIFY(chat.isAnswering()); // still waiting on the frozen server
    chat.stop();
    QVERIFY(finished.wait(kTimeoutMs));
    result = finished.takeFirst().at(0).value<ChatResult>();
    QVERIFY2(result.error == ChatError::None, qPrintable(result.message));
    QVERIFY(result.stoppedByUser);
    QVERIFY(result.generatedTokens > 0 && result.generatedTokens < 400);
    ::kill(pid_t(beta.process->processId()), SIGCONT);

    // beta goes away; once its record expires, the chat says what is missing.
    peers.kill(beta.process);
    QTRY_VERIFY_WITH_TIMEOUT(engine.status().missingBlocks.size() == 4, kTimeoutMs);
    chat.newConversation();
    chat.send(QStringLiteral("Anyone there?"));
    QVERIFY(finished.wait(kTimeoutMs));
    result = finished.takeFirst().at(0).value<ChatResult>();
    QVERIFY2(result.error == ChatError::MissingBlocks, qPrintable(result.message));
    QCOMPARE(result.missingBlocks, QStringLiteral("4-7"));
    QVERIFY2(chat.notice().contains(QStringLiteral("4-7"))
                 && chat.notice().contains(QStringLiteral("Donate my GPU")),
             qPrintable(chat.notice()));
}

QTEST_MAIN(TestDesktopProcesses)
#include "testdesktopprocesses.moc"
