// Generation through real server processes on 127.0.0.1: equal to local generation token
// for token, the same after a server is killed mid-answer (a spare takes over), a clear
// error when no server holds some blocks, and routes that take the nearer of two servers.

#include <QElapsedTimer>
#include <QtTest>

#include <ATen/ATen.h>

#include "client/remoteforward.h"
#include "client/staticswarmclient.h"
#include "client/swarmarguments.h"
#include "client/tinytestmodel.h"
#include "loader/checkpoint.h"
#include "model/blockspan.h"
#include "swarm/modelidentity.h"
#include "swarm/serverrecord.h"
#include "swarm/staticregistry.h"
#include "testmodel/testmodel.h"
#include "tools/peerprocesses.h"

using namespace corolla;
using namespace corolla::swarmtest;

class TestSwarmGeneration : public QObject {
    Q_OBJECT

    QTemporaryDir m_folder;

    QString modelFor(const QString &family) { return tinyTestModel(m_folder, family, 9); }

    // A server of `blocks` ("A:B"); with delayMs >= 0 it is reached through a delaying relay.
    StartedServer startServer(PeerProcesses &peers, const QString &model, const QString &blocks,
                              const QString &name, int delayMs = -1, const QStringList &extra = {})
    {
        const QStringList arguments = serveArguments(model, blocks, name, m_folder) + extra
                                      + QStringList{QStringLiteral("--events")};
        if (delayMs >= 0)
            return startRelayedServer(peers, arguments, name, delayMs,
                                      QStringLiteral(COROLLA_RELAY_BINARY));
        return waitUntilServing(peers, peers.start(arguments), name);
    }

    QString peersFile(const std::vector<StartedServer> &servers)
    {
        return writePeersFile(m_folder, servers);
    }

private Q_SLOTS:
    void swarmGenerationEqualsLocal_data()
    {
        QTest::addColumn<QString>("family");
        QTest::newRow("llama") << QStringLiteral("llama");
        QTest::newRow("qwen3") << QStringLiteral("qwen3");
        QTest::newRow("gemma2") << QStringLiteral("gemma2");
        QTest::newRow("gemma3") << QStringLiteral("gemma3");
        QTest::newRow("mixtral") << QStringLiteral("mixtral");
        QTest::newRow("falcon") << QStringLiteral("falcon");
        QTest::newRow("falcon-alibi") << QStringLiteral("falcon-alibi");
        QTest::newRow("bloom") << QStringLiteral("bloom");
    }

    void swarmGenerationEqualsLocal()
    {
        QFETCH(QString, family);
        const QString model = modelFor(family);
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("a")),
            startServer(peers, model, QStringLiteral("2:3"), QStringLiteral("b")),
            startServer(peers, model, QStringLiteral("3:4"), QStringLiteral("c"))};
        const auto [localCode, local] = peers.run(generateArguments(model, 24));
        QCOMPARE(localCode, 0);
        const auto [swarmCode, swarm] =
            peers.run(generateArguments(model, 24) + swarmArguments(peersFile(servers)));
        QVERIFY2(swarmCode == 0, qPrintable(peers.logs()));
        QCOMPARE(swarm, local);
        QCOMPARE(local.trimmed().split(' ').size(), 24);
    }

    void killedServerChangesNothing_data()
    {
        QTest::addColumn<int>("killAfterTokens");
        QTest::newRow("during the first step") << 0;
        QTest::newRow("after 3 tokens") << 3;
        QTest::newRow("after 17 tokens") << 17;
    }

    void killedServerChangesNothing()
    {
        QFETCH(int, killAfterTokens);
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        // The second half of the model twice: the route takes one, the other is the spare.
        // Relays slow each step down enough to kill a server in the middle of an answer.
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("head"), 2),
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("tail1"), 2),
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("tail2"), 2)};
        const auto [localCode, local] = peers.run(generateArguments(model, 30));
        QCOMPARE(localCode, 0);

        QProcess *client =
            peers.start(generateArguments(model, 30) + swarmArguments(peersFile(servers)));
        client->setReadChannel(QProcess::StandardOutput);
        QByteArray output;
        const QStringList route = hopNames(peers.waitForEvent(client, "route", 30000));
        if (killAfterTokens > 0)
            QTRY_VERIFY_WITH_TIMEOUT((output += client->readAllStandardOutput(),
                                      output.split(' ').size() > killAfterTokens),
                                     30000);
        const QStringList viaTail1{QStringLiteral("head"), QStringLiteral("tail1")};
        const QStringList viaTail2{QStringLiteral("head"), QStringLiteral("tail2")};
        const bool firstTail = route == viaTail1;
        QVERIFY2(firstTail || route == viaTail2, qPrintable(route.join(QLatin1Char(' '))));
        peers.kill(servers[firstTail ? 1 : 2].process);
        QVERIFY(client->waitForFinished(60000));
        output += client->readAllStandardOutput();
        const QString log = peers.log(client);
        QVERIFY2(client->exitCode() == 0, qPrintable(log));
        QCOMPARE(output, local);
        const nlohmann::json finished = peers.lastEvent(client, "finished");
        QVERIFY2(finished.value("failovers", -1) == 1, qPrintable(log));
        QCOMPARE(hopNames(finished),
                 (QStringList{QStringLiteral("head"),
                              firstTail ? QStringLiteral("tail2") : QStringLiteral("tail1")}));
    }

    void chatOverTheSwarmKeepsItsSessionAcrossTurns()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:3"), QStringLiteral("a")),
            startServer(peers, model, QStringLiteral("3:4"), QStringLiteral("b"))};
        const QStringList chat{QStringLiteral("chat"),
                               QStringLiteral("--model"),
                               model,
                               QStringLiteral("--dtype"),
                               QStringLiteral("fp32"),
                               QStringLiteral("--max-new-tokens"),
                               QStringLiteral("8"),
                               QStringLiteral("--system"),
                               QStringLiteral("Be brief."),
                               QStringLiteral("--events")};
        auto converse = [&](const QStringList &arguments) {
            QProcess *process = peers.start(arguments);
            process->write("Hello there\nAnd a second question\n");
            process->closeWriteChannel();
            process->waitForFinished(60000);
            return std::make_pair(process->readAllStandardOutput(), peers.events(process));
        };
        const auto [localOut, localEvents] = converse(chat);
        const auto [swarmOut, swarmEvents] = converse(chat + swarmArguments(peersFile(servers)));
        QCOMPARE(swarmOut, localOut);
        QCOMPARE(localOut.count("> "), 3); // two answers, then the prompt that met the end of input
        // The second turn feeds only its new tokens: the first turn stays in the servers' caches.
        std::vector<nlohmann::json> turns;
        for (const nlohmann::json &event : swarmEvents)
            if (event["event"] == "turn")
                turns.push_back(event);
        QCOMPARE(turns.size(), std::size_t(2));
        QCOMPARE(turns[0]["reused_tokens"].get<int>(), 0);
        QVERIFY(turns[1]["reused_tokens"].get<int>() > 0);
        for (const nlohmann::json &turn : turns)
            QCOMPARE(hopNames(turn), (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
        QCOMPARE(turns[0]["hops"][0]["end"].get<int>(), 3);
    }

    void forwardAndBackwardThroughTheSwarm()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("front")),
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("back")),
            startServer(peers, model, QStringLiteral("0:4"), QStringLiteral("whole"))};
        const auto client = staticSwarmClient(model, servers);

        const ModelConfig config = *ModelConfig::load(model.toStdString());
        auto checkpoint = Checkpoint::open(model.toStdString());
        auto local = BlockSpan::load(config, **checkpoint, 0, config.numLayers, at::kFloat);
        QVERIFY(local);
        auto generator = at::make_generator<at::CPUGeneratorImpl>(23);
        const at::Tensor x = at::randn({2, 6, config.hiddenSize}, generator);
        const at::Tensor g = at::randn({2, 6, config.hiddenSize}, generator);
        const std::vector<std::int64_t> lengths{6, 4};

        RemoteForwardOptions options;
        options.codec = proto::CODEC_FP32;
        RemoteForward remote(*client, config.numLayers, options);
        auto output = remote.forward(x, lengths);
        QVERIFY2(output, output ? "" : output.error().message.c_str());
        const at::Tensor expected = *(*local)->forward(x, lengths);
        // Padding positions (past each length) carry whatever the blocks make of them; only
        // the real ones are compared.
        QVERIFY((*output - expected).narrow(1, 0, 4).abs().max().item<double>() < 1e-5);
        auto grad = remote.backward(x, g, lengths);
        QVERIFY2(grad, grad ? "" : grad.error().message.c_str());
        const at::Tensor expectedGrad =
            (*local)->backward(x, g, lengths, 0, config.numLayers)->input;
        QVERIFY((grad->input - expectedGrad).abs().max().item<double>()
                <= 1e-4 * expectedGrad.abs().max().item<double>());

        // One hop beats two of the same speed: the route takes "whole". Without it, the
        // other two answer.
        QCOMPARE(remote.failovers(), 0);
        peers.kill(servers[2].process);
        auto again = remote.forward(x, lengths);
        QVERIFY2(again, again ? "" : again.error().message.c_str());
        QVERIFY((*again - expected).narrow(1, 0, 4).abs().max().item<double>() < 1e-5);
        QCOMPARE(remote.failovers(), 1);
        auto gradAgain = remote.backward(x, g, lengths);
        QVERIFY(gradAgain);
        QVERIFY((gradAgain->input - expectedGrad).abs().max().item<double>()
                <= 1e-4 * expectedGrad.abs().max().item<double>());
    }

    void anUnreachableAddressIsSkipped()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        // The record's first address refuses connections; the second is the server.
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:4"), QStringLiteral("multihomed"), -1,
                        {QStringLiteral("--announce-address"), QStringLiteral("127.0.0.1:1"),
                         QStringLiteral("--announce-address"), QStringLiteral("127.0.0.1")})};
        const auto [localCode, local] = peers.run(generateArguments(model, 8));
        QProcess *client =
            peers.start(generateArguments(model, 8) + swarmArguments(peersFile(servers)));
        QVERIFY(client->waitForFinished(60000));
        const QString log = peers.log(client);
        QVERIFY2(client->exitCode() == 0, qPrintable(log));
        QCOMPARE(client->readAllStandardOutput(), local);
        QVERIFY2(peers.lastEvent(client, "finished").value("failovers", -1) == 0, qPrintable(log));
    }

    void missingBlocksAreNamedWithinTheTimeout()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("only"))};
        QStringList arguments = generateArguments(model, 8) + swarmArguments(peersFile(servers));
        arguments[arguments.indexOf(QStringLiteral("--route-timeout")) + 1] = QStringLiteral("2");
        QProcess *client = peers.start(arguments);
        QVERIFY(client->waitForFinished(60000)); // it ends by itself: no hang
        const QString log = peers.log(client);
        QCOMPARE(client->exitCode(), 1);
        QVERIFY2(missingBlocks(peers.lastEvent(client, "error"))
                     == (std::vector<std::int64_t>{2, 3}),
                 qPrintable(log));
        QVERIFY2(log.contains(QLatin1String("no server holds blocks 2-3")), qPrintable(log));
    }

    // A killed server's signed record stays in the DHT for two announce periods. A client
    // that needs its blocks must say which blocks nobody holds, not crash on the stale record;
    // the same when the only holder is alive but refuses the session (its cache is full).
    void aDeadSoleHolderIsACleanError_data()
    {
        QTest::addColumn<bool>("killed");
        QTest::newRow("killed, its record stale") << true;
        QTest::newRow("alive, refusing sessions") << false;
    }

    void aDeadSoleHolderIsACleanError()
    {
        QFETCH(bool, killed);
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const quint16 bootstrap = startBootstrap(peers);
        startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("head"), -1,
                    dhtArguments(bootstrap));
        const StartedServer tail = startServer(
            peers, model, QStringLiteral("2:4"), QStringLiteral("tail"), -1,
            dhtArguments(bootstrap)
                + (killed ? QStringList{}
                          : QStringList{QStringLiteral("--cache-tokens"), QStringLiteral("1")}));
        if (killed) {
            // The record must be in the DHT before the kill, or there is no stale record to
            // meet: "serving" comes when the put is sent, not when the bootstrap node has it.
            int listed = 0;
            for (int attempt = 0; attempt < 10 && listed < 2; ++attempt) {
                const auto [code, listing] =
                    peers.run(QStringList{QStringLiteral("swarm"), QStringLiteral("--model"), model,
                                          QStringLiteral("--json"), QStringLiteral("--wait"),
                                          QStringLiteral("2")}
                              + dhtArguments(bootstrap));
                if (code == 0)
                    listed = int(nlohmann::json::parse(listing.toStdString())["servers"].size());
            }
            QCOMPARE(listed, 2);
            peers.kill(tail.process);
        }

        QProcess *client =
            peers.start(generateArguments(model, 8) + dhtClientArguments(bootstrap, 3));
        QVERIFY(client->waitForFinished(60000));
        const QString log = peers.log(client);
        QVERIFY2(client->exitStatus() == QProcess::NormalExit && client->exitCode() == 1,
                 qPrintable(log));
        QVERIFY2(missingBlocks(peers.lastEvent(client, "error"))
                     == (std::vector<std::int64_t>{2, 3}),
                 qPrintable(log));
        // The message says what the client saw and tried.
        QVERIFY2(log.contains(QLatin1String("2 server(s) seen")),
                 qPrintable(log)); // the stale record too
        if (!killed)
            QVERIFY2(log.contains(QLatin1String("last failure")),
                     qPrintable(log)); // it did try to open a session
    }

    // The only holder of a span dies mid-answer: the client waits for a replacement, then
    // names the blocks; a server that appears within the wait is used, with the same output.
    void theSoleHolderDiesMidAnswer_data()
    {
        QTest::addColumn<bool>("replacementAppears");
        QTest::newRow("no replacement") << false;
        QTest::newRow("a replacement appears") << true;
    }

    void theSoleHolderDiesMidAnswer()
    {
        QFETCH(bool, replacementAppears);
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const quint16 bootstrap = startBootstrap(peers);
        const QStringList dht = dhtArguments(bootstrap);
        startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("head"), 2, dht);
        const StartedServer tail =
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("tail"), 2, dht);
        const auto [localCode, local] = peers.run(generateArguments(model, 30));
        QCOMPARE(localCode, 0);

        QProcess *client =
            peers.start(generateArguments(model, 30)
                        + dhtClientArguments(bootstrap, replacementAppears ? 60 : 3));
        client->setReadChannel(QProcess::StandardOutput);
        QByteArray output;
        QTRY_VERIFY_WITH_TIMEOUT(
            (output += client->readAllStandardOutput(), output.split(' ').size() > 5), 30000);
        peers.kill(tail.process);
        if (replacementAppears)
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("newtail"), -1, dht);
        QVERIFY(client->waitForFinished(90000));
        output += client->readAllStandardOutput();
        const QString log = peers.log(client);
        QVERIFY2(client->exitStatus() == QProcess::NormalExit, qPrintable(log));
        if (replacementAppears) {
            QVERIFY2(client->exitCode() == 0, qPrintable(log));
            QCOMPARE(output, local);
            QCOMPARE(hopNames(peers.lastEvent(client, "finished")),
                     (QStringList{QStringLiteral("head"), QStringLiteral("newtail")}));
        } else {
            QVERIFY2(client->exitCode() == 1, qPrintable(log));
            QVERIFY2(missingBlocks(peers.lastEvent(client, "error"))
                         == (std::vector<std::int64_t>{2, 3}),
                     qPrintable(log));
            QVERIFY2(local.startsWith(output.trimmed()),
                     (output + " / " + local)
                         .constData()); // what was printed before the error was right
        }
    }

    // A base model and its fine-tune share config.json; they must not share a swarm.
    void sameConfigOtherWeightsAreAnotherSwarm()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        const QString twin = m_folder.filePath(QStringLiteral("llama-twin"));
        QVERIFY(writeTestModel(twin.toStdString(), {"llama", "tiny", at::kFloat, 10}, 1));
        QFile a(model + QStringLiteral("/config.json")), b(twin + QStringLiteral("/config.json"));
        QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
        QCOMPARE(a.readAll(), b.readAll());
        const auto modelId = modelIdForDirectory(model.toStdString());
        const auto twinId = modelIdForDirectory(twin.toStdString());
        QVERIFY(modelId && twinId && *modelId != *twinId);

        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const quint16 bootstrap = startBootstrap(peers);
        startServer(peers, model, QStringLiteral("0:4"), QStringLiteral("original"), -1,
                    dhtArguments(bootstrap));
        // The twin's client finds no server of its weights...
        QProcess *twinClient =
            peers.start(generateArguments(twin, 4) + dhtClientArguments(bootstrap, 3));
        QVERIFY(twinClient->waitForFinished(60000));
        QString log = peers.log(twinClient);
        QCOMPARE(twinClient->exitCode(), 1);
        QVERIFY2(missingBlocks(peers.lastEvent(twinClient, "error"))
                     == (std::vector<std::int64_t>{0, 1, 2, 3}),
                 qPrintable(log));
        QVERIFY2(log.contains(QString::fromStdString(*twinId)), qPrintable(log)); // named
        // ...while the original's client uses the server.
        QProcess *client =
            peers.start(generateArguments(model, 4) + dhtClientArguments(bootstrap, 30));
        QVERIFY(client->waitForFinished(60000));
        log = peers.log(client);
        QVERIFY2(client->exitCode() == 0, qPrintable(log));
        QCOMPARE(hopNames(peers.lastEvent(client, "finished")),
                 QStringList{QStringLiteral("original")});
    }

    void routeTakesTheNearerServerThenTheOther()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        // The near server's delay keeps the answer going long after the sixth token, so
        // that it is still running when the near server is killed.
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("head")),
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("near"), 10),
            startServer(peers, model, QStringLiteral("2:4"), QStringLiteral("far"), 80)};
        const auto [localCode, local] = peers.run(generateArguments(model, 60));
        QCOMPARE(localCode, 0);
        QProcess *client =
            peers.start(generateArguments(model, 60) + swarmArguments(peersFile(servers)));
        QCOMPARE(hopNames(peers.waitForEvent(client, "route", 30000)),
                 (QStringList{QStringLiteral("head"), QStringLiteral("near")}));
        QByteArray output;
        QTRY_VERIFY_WITH_TIMEOUT(
            (output += client->readAllStandardOutput(), output.split(' ').size() > 5), 30000);
        peers.kill(servers[1].process);
        QVERIFY(client->waitForFinished(60000));
        output += client->readAllStandardOutput();
        QCOMPARE(client->exitCode(), 0);
        QCOMPARE(output, local);
        const nlohmann::json finished = peers.lastEvent(client, "finished");
        QCOMPARE(finished.value("failovers", -1), 1);
        QCOMPARE(hopNames(finished), (QStringList{QStringLiteral("head"), QStringLiteral("far")}));
    }
};

QTEST_GUILESS_MAIN(TestSwarmGeneration)
#include "testswarmgeneration.moc"
