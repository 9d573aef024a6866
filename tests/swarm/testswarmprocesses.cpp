// Real swarms on 127.0.0.1: `corolla serve` processes with --blocks auto find each other
// through a real OpenDHT bootstrap node (or LAN multicast), cover every block, compute what
// the local engine computes, spread over the weakest blocks as they join, and drop out of
// the swarm state when they die.

#include <ATen/ATen.h>
#include <QElapsedTimer>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "loader/checkpoint.h"
#include "model/blockspan.h"
#include "net/hostport.h"
#include "net/rpcchannel.h"
#include "server/memoryplan.h"
#include "testmodel/testmodel.h"
#include "tools/peerprocesses.h"
#include "wire/wiretensor.h"

using namespace corolla;

namespace {

constexpr std::int64_t kCacheTokens = 256;
constexpr double kAnnouncePeriodSeconds = 1.0;
constexpr int kSwarmTimeoutMs = 90000; // how long a swarm may take to settle before we give up

struct Server {
    std::string peerId;
    std::string address;
    std::int64_t start = 0, end = 0;
};

} // namespace

class TestSwarmProcesses : public QObject {
    Q_OBJECT

    QTemporaryDir m_folder;
    QString m_model;
    ModelConfig m_config;

    // The smallest memory budget that holds `blocks` blocks (fp32, kCacheTokens of cache).
    std::int64_t budgetFor(std::int64_t blocks) const
    {
        std::int64_t budget = 16 << 10;
        while (true) {
            auto fit = blocksForBudget(m_config, 4, kCacheTokens, budget);
            if (fit && *fit >= blocks)
                return budget;
            budget += 16 << 10;
        }
    }

    QStringList serveArguments(const QStringList &registry, std::int64_t blocks, int index,
                               double rebalanceSeconds) const
    {
        return QStringList{QStringLiteral("serve"),
                           QStringLiteral("--model"),
                           m_model,
                           QStringLiteral("--blocks"),
                           QStringLiteral("auto"),
                           QStringLiteral("--memory-budget"),
                           QString::number(budgetFor(blocks)),
                           QStringLiteral("--dtype"),
                           QStringLiteral("fp32"),
                           QStringLiteral("--cache-tokens"),
                           QString::number(kCacheTokens),
                           QStringLiteral("--listen"),
                           QStringLiteral("127.0.0.1"),
                           QStringLiteral("--identity"),
                           m_folder.filePath(QStringLiteral("peer%1.pem").arg(index)),
                           QStringLiteral("--public-name"),
                           QStringLiteral("peer%1").arg(index),
                           QStringLiteral("--announce-period"),
                           QString::number(kAnnouncePeriodSeconds),
                           QStringLiteral("--rebalance-period"),
                           QString::number(rebalanceSeconds),
                           QStringLiteral("--events")}
               + registry;
    }

    // A `corolla bootstrap` node on a free port, running; the registry options that use it.
    static QStringList startBootstrap(PeerProcesses &peers, QProcess *&node)
    {
        const quint16 port = freeUdpPort();
        node = peers.start({QStringLiteral("bootstrap"), QStringLiteral("--port"),
                            QString::number(port), QStringLiteral("--events")});
        if (peers.waitForEvent(node, "listening", 10000).empty())
            qFatal("the bootstrap node did not start:\n%s", qPrintable(peers.log(node)));
        return {QStringLiteral("--dht-bootstrap"), QStringLiteral("127.0.0.1:%1").arg(port)};
    }

    // `corolla swarm --json` as seen through `registry`.
    nlohmann::json swarm(PeerProcesses &peers, const QStringList &registry) const
    {
        auto [code, output] = peers.run(
            QStringList{QStringLiteral("swarm"), QStringLiteral("--model"), m_model,
                        QStringLiteral("--json"), QStringLiteral("--wait"), QStringLiteral("1")}
            + registry);
        if (code != 0)
            return nlohmann::json::object();
        return nlohmann::json::parse(output.toStdString(), nullptr, false);
    }

    static std::vector<Server> onlineServers(const nlohmann::json &state)
    {
        std::vector<Server> servers;
        if (!state.is_object() || !state.contains("servers"))
            return servers;
        for (const auto &server : state["servers"])
            if (server["state"] == "online")
                servers.push_back(
                    {server["peer_id"], server["addresses"][0], server["start"], server["end"]});
        return servers;
    }

    std::vector<int> coverage(const std::vector<Server> &servers) const
    {
        std::vector<int> count(std::size_t(m_config.numLayers), 0);
        for (const Server &server : servers)
            for (std::int64_t block = server.start; block < server.end; ++block)
                ++count[std::size_t(block)];
        return count;
    }

    bool coversEveryBlock(const std::vector<Server> &servers) const
    {
        const auto count = coverage(servers);
        return std::all_of(count.begin(), count.end(), [](int c) { return c > 0; });
    }

    // Hidden states through the servers' spans in turn, each over real TLS; compared with
    // the local engine over the same checkpoint.
    void forwardThroughSwarmEqualsLocal(const std::vector<Server> &servers)
    {
        auto generator = at::make_generator<at::CPUGeneratorImpl>(17);
        const at::Tensor input = at::randn({1, 5, m_config.hiddenSize}, generator);
        at::Tensor x = input;
        std::int64_t block = 0;
        while (block < m_config.numLayers) {
            auto server = std::find_if(servers.begin(), servers.end(), [&](const Server &s) {
                return s.start <= block && block < s.end;
            });
            QVERIFY(server != servers.end());
            auto hostPort = parseHostPort(server->address);
            QVERIFY(hostPort);
            RpcChannel channel(QString::fromStdString(hostPort->first), hostPort->second,
                               server->peerId);
            proto::Request request;
            request.mutable_forward()->set_start(block);
            request.mutable_forward()->set_end(server->end);
            *request.mutable_forward()->mutable_hidden() = *tensorToWire(x, proto::CODEC_FP32);
            auto response = callAndWait(channel, request);
            QVERIFY2(response && response->has_forward(), response
                                                              ? response->error().message().c_str()
                                                              : response.error().message.c_str());
            x = *tensorFromWire(response->forward().hidden(), std::int64_t(1) << 24);
            block = server->end;
        }
        auto checkpoint = Checkpoint::open(m_model.toStdString());
        QVERIFY(checkpoint);
        auto local = BlockSpan::load(m_config, **checkpoint, 0, m_config.numLayers, at::kFloat);
        QVERIFY(local);
        const at::Tensor expected = *(*local)->forward(input, {5});
        QVERIFY((x - expected).abs().max().item<double>() < 1e-5);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = m_folder.filePath(QStringLiteral("model"));
        auto written = writeTestModel(m_model.toStdString(), {"llama", "tiny", at::kFloat, 3}, 2);
        QVERIFY2(written, written ? "" : written.error().message.c_str());
        m_config = *ModelConfig::load(m_model.toStdString());
        QVERIFY(m_config.numLayers >= 4);
    }

    void dhtSwarmCoversEveryBlockAndDropsTheDead()
    {
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        QProcess *bootstrap = nullptr;
        const QStringList registry = startBootstrap(peers, bootstrap);

        // Three servers started together, each with room for half the model: they all look
        // at an empty swarm at first, and re-balancing has to spread them.
        std::vector<QProcess *> servers;
        for (int i = 0; i < 3; ++i)
            servers.push_back(
                peers.start(serveArguments(registry, m_config.numLayers / 2, i, 2.0)));
        std::vector<Server> online;
        QTRY_VERIFY2_WITH_TIMEOUT((online = onlineServers(swarm(peers, registry)),
                                   online.size() == 3 && coversEveryBlock(online)),
                                  qPrintable(peers.logs()), kSwarmTimeoutMs);
        forwardThroughSwarmEqualsLocal(online);

        // A server that dies without a word leaves the swarm state when its record expires,
        // two announce periods after its last announcement.
        const std::string deadPeer = online.front().peerId;
        const auto dead = std::find_if(servers.begin(), servers.end(), [&](QProcess *process) {
            return peers.lastEvent(process, "listening").value("peer_id", std::string())
                   == deadPeer;
        });
        QVERIFY(dead != servers.end());
        peers.kill(*dead);
        QElapsedTimer sinceKill;
        sinceKill.start();
        auto isGone = [&] {
            const auto now = onlineServers(swarm(peers, registry));
            return std::none_of(now.begin(), now.end(),
                                [&](const Server &s) { return s.peerId == deadPeer; });
        };
        // Two periods, plus the second `corolla swarm` listens and the time it takes to start.
        const qint64 deadline = qint64(2 * kAnnouncePeriodSeconds * 1000) + 4000;
        bool gone = false;
        qint64 goneAfterMs = 0;
        while (!gone && sinceKill.elapsed() < deadline) {
            gone = isGone();
            goneAfterMs = sinceKill.elapsed();
        }
        QVERIFY2(gone, qPrintable(peers.logs()));
        qInfo("the dead server was gone from the swarm state %lld ms after it was killed",
              static_cast<long long>(goneAfterMs));
        QVERIFY(peers.terminate(bootstrap) == 0);
    }

    void serversJoiningOneByOneSpreadOverTheWeakestBlocks()
    {
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        QProcess *bootstrap = nullptr;
        const QStringList registry = startBootstrap(peers, bootstrap);
        // One block each and no re-balancing: where each server lands is its own choice.
        for (int i = 0; i < m_config.numLayers; ++i) {
            peers.start(serveArguments(registry, 1, 10 + i, 3600.0));
            std::vector<Server> online;
            QTRY_VERIFY2_WITH_TIMEOUT(
                (online = onlineServers(swarm(peers, registry)), int(online.size()) == i + 1),
                qPrintable(peers.logs()), kSwarmTimeoutMs);
            const auto count = coverage(online);
            QVERIFY2(
                std::all_of(count.begin(), count.end(), [](int c) { return c <= 1; }),
                qPrintable(
                    QStringLiteral(
                        "a joining server stacked on a covered block while others were empty\n")
                    + peers.logs()));
        }
        QVERIFY(coversEveryBlock(onlineServers(swarm(peers, registry))));
    }

    void lanSwarmFindsItselfWithoutConfiguration()
    {
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const QStringList registry{QStringLiteral("--lan"), QStringLiteral("--lan-port"),
                                   QString::number(freeUdpPort())};
        std::vector<QProcess *> servers;
        for (int i = 0; i < 3; ++i)
            servers.push_back(
                peers.start(serveArguments(registry, m_config.numLayers / 2, 20 + i, 2.0)));
        std::vector<Server> online;
        QTRY_VERIFY2_WITH_TIMEOUT((online = onlineServers(swarm(peers, registry)),
                                   online.size() == 3 && coversEveryBlock(online)),
                                  qPrintable(peers.logs()), kSwarmTimeoutMs);
        forwardThroughSwarmEqualsLocal(online);
        // Ctrl+C / SIGTERM: a clean exit that announces the server offline.
        QProcess *leaving = servers.front();
        QCOMPARE(peers.terminate(leaving), 0);
        QVERIFY(!peers.lastEvent(leaving, "stopped").empty());
    }
};

QTEST_GUILESS_MAIN(TestSwarmProcesses)
#include "testswarmprocesses.moc"
