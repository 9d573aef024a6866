#include "facade/enginehost.h"

#include <algorithm>
#include <limits>

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>

#include "core/bytesize.h"
#include "facade/demomodel.h"
#include "hub/hubdownloader.h"
#include "net/identity.h"
#include "server/servernode.h"
#include "swarm/recordboard.h"
#include "swarm/modelidentity.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr int kStatusPeriodMs = 500;
constexpr int kViewRefreshMs = 1000;
constexpr int kDemoAnnouncePeriodMs = 5000;
constexpr qint64 kFetchLogIntervalMs = 5000;
constexpr int kShutdownGraceMs = 300; // lets OFFLINE announcements leave before the sockets close

QString fromStd(const std::string &text)
{
    return QString::fromStdString(text);
}

PeerState peerState(proto::ServerState state)
{
    switch (state) {
    case proto::STATE_JOINING: return PeerState::Joining;
    case proto::STATE_ONLINE: return PeerState::Online;
    default: return PeerState::Offline;
    }
}

} // namespace

EngineHost::EngineHost(QString dataFolder, QObject *parent)
    : QObject(parent)
    , m_dataFolder(std::move(dataFolder))
    , m_statusTimer(this)
{
    m_statusTimer.setInterval(kStatusPeriodMs);
    connect(&m_statusTimer, &QTimer::timeout, this, &EngineHost::publishStatus);
    m_lastStatus = std::chrono::steady_clock::now();
    m_statusTimer.start();
}

EngineHost::~EngineHost()
{
    shutDown();
}

void EngineHost::shutDown()
{
    const bool serving = m_server || !m_demoServers.empty();
    stopOwnServer();
    stopDemoServers();
    if (serving) {
        QEventLoop grace;
        QTimer::singleShot(kShutdownGraceMs, &grace, &QEventLoop::quit);
        grace.exec();
    }
}

void EngineHost::applySettings(const SwarmSettings &settings)
{
    // Apply with nothing changed while the chat works: rejoining would cut open chats, API
    // streams and this computer's server for nothing. (Otherwise Apply is also a retry.)
    if (settings == m_settings && !m_demoBoard && m_chatReady && m_problem.isEmpty())
        return;
    m_settings = settings;
    stopDemoServers();
    SwarmConnection connection;
    for (const QString &node : settings.dhtBootstrap)
        connection.dhtBootstrap.push_back(node.trimmed().toStdString());
    connection.lan = settings.lan;
    auto peers = parseStaticPeers(settings.staticPeers.toStdString(), "static peers");
    if (!peers) {
        m_problem = fromStd(peers.error().toString());
        return;
    }
    connection.staticPeers = std::move(*peers);
    joinSwarm(settings.modelDir, connection);
}

void EngineHost::startDemo(int servers, const SwarmSettings &settings)
{
    m_settings = settings;
    auto folder = ensureDemoModel(m_dataFolder);
    if (!folder) {
        m_problem = fromStd(folder.error().toString());
        return;
    }
    stopDemoServers();
    m_demoBoard = std::make_shared<RecordBoard>();
    SwarmConnection connection;
    connection.board = m_demoBoard;
    auto config = ModelConfig::load(folder->toStdString());
    if (!config) {
        m_problem = fromStd(config.error().toString());
        return;
    }
    auto modelId = modelIdForDirectory(folder->toStdString());
    if (!modelId) {
        m_problem = fromStd(modelId.error().toString());
        return;
    }
    const std::int64_t numBlocks = config->numLayers;
    servers = int(std::clamp<std::int64_t>(servers, 1, numBlocks));
    m_demoShare = (numBlocks + servers - 1) / servers;
    for (int i = 0; i < servers; ++i) {
        ServeOptions options;
        options.modelDir = folder->toStdString();
        options.blocks = std::make_pair(i * numBlocks / servers, (i + 1) * numBlocks / servers);
        options.listenAddress = QStringLiteral("127.0.0.1");
        options.announceAddresses = {"127.0.0.1"};
        options.publicName = "demo-" + std::to_string(i + 1);
        options.announcePeriodMs = kDemoAnnouncePeriodMs;
        options.throughputCachePath =
            QDir(m_dataFolder).filePath(QStringLiteral("throughput.json")).toStdString();
        auto identity = PeerIdentity::generate();
        auto watcher = identity.andThen([&](const PeerIdentity &peer) {
            return makeSwarmWatcher(connection, *modelId, peer.peerId());
        });
        if (!watcher) {
            m_problem = fromStd(watcher.error().toString());
            return;
        }
        auto node =
            std::make_unique<ServerNode>(options, std::move(*identity), std::move(*watcher));
        connect(node.get(), &ServerNode::log, this, [this, i](const QString &message) {
            Q_EMIT log(QStringLiteral("demo-%1: %2").arg(i + 1).arg(message));
        });
        if (auto started = node->start(); !started) {
            m_problem = fromStd(started.error().toString());
            return;
        }
        m_demoServers.push_back(std::move(node));
    }
    joinSwarm(*folder, connection);
}

void EngineHost::stopDemoServers()
{
    for (auto &node : m_demoServers)
        node->stop();
    m_demoServers.clear();
    m_demoBoard.reset();
}

void EngineHost::joinSwarm(const QString &modelDir, const SwarmConnection &connection)
{
    const bool serving = m_server != nullptr;
    stopOwnServer();
    m_view.reset();
    m_problem.clear();
    m_modelDir = modelDir;
    m_connection = connection;
    m_modelId.clear();
    m_config = ModelConfig();
    Q_EMIT chatModelChanged(modelDir, connection);
    if (modelDir.isEmpty())
        return;
    auto config = ModelConfig::load(modelDir.toStdString());
    auto modelId = config.andThen(
        [&](const ModelConfig &) { return modelIdForDirectory(modelDir.toStdString()); });
    if (!modelId) {
        m_problem = fromStd(modelId.error().toString());
        return;
    }
    m_config = *config;
    m_modelId = *modelId;
    auto view = makeSwarmWatcher(connection, m_modelId);
    if (!view) {
        m_problem = fromStd(view.error().toString());
        return;
    }
    m_view = std::move(*view);
    connect(m_view.get(), &SwarmWatcher::problem, this,
            [this](const QString &message) { m_problem = message; });
    m_view->start(kViewRefreshMs);
    if (serving || m_donating)
        startOwnServer();
}

void EngineHost::startDonating(const DonateSettings &settings)
{
    if (m_server && settings == m_donate)
        return; // serving already, as asked
    m_donating = true;
    m_donate = settings;
    stopOwnServer();
    startOwnServer();
}

void EngineHost::stopDonating()
{
    m_donating = false;
    stopOwnServer();
}

void EngineHost::startOwnServer()
{
    m_serverProblem.clear();
    if (m_modelDir.isEmpty() || m_modelId.empty()) {
        m_serverProblem = QStringLiteral(
            "no model to serve: choose one in the settings, or start the demo swarm");
        return;
    }
    const bool demo = m_demoBoard != nullptr;
    ServeOptions options;
    options.modelDir = m_modelDir.toStdString();
    options.memoryBudgetBytes = m_donate.memoryBudgetBytes;
    options.blockCount = m_donate.blockCount;
    options.dtype = m_donate.dtype;
    options.quantization = m_donate.quantization;
    options.device = m_donate.device;
    options.listenAddress = demo ? QStringLiteral("127.0.0.1") : QStringLiteral("0.0.0.0");
    options.port = demo ? 0 : m_settings.port;
    if (demo) {
        // Where everything would fit, this computer still takes one share like the demo
        // servers, so the demo shows a pipeline of several peers.
        if (options.blockCount == 0)
            options.blockCount = m_demoShare;
        options.announceAddresses = {"127.0.0.1"};
        options.announcePeriodMs = kDemoAnnouncePeriodMs;
    }
    options.publicName = m_settings.publicName.toStdString();
    options.throughputCachePath =
        QDir(m_dataFolder).filePath(QStringLiteral("throughput.json")).toStdString();
    // A Hub model fetches the shards of the blocks chosen, on the server's compute thread;
    // stopping the server stops the download, and the server is gone before this host.
    m_fetchStop = std::stop_source();
    options.fetchBlocks = [this, folder = m_modelDir,
                           stop = m_fetchStop.get_token()](std::int64_t begin, std::int64_t end) {
        HubDownloadOptions download;
        download.stop = stop;
        download.note = [this](const QString &note) { Q_EMIT log(note); };
        download.progress = [this, since = std::make_shared<QElapsedTimer>()](
                                const DownloadProgress &progress) {
            if (since->isValid() && since->elapsed() < kFetchLogIntervalMs && !progress.fileDone)
                return;
            since->start();
            Q_EMIT log(QStringLiteral("fetching the blocks' weights: %1 of %2, %3/s")
                           .arg(fromStd(formatBytes(progress.bytes)),
                                fromStd(formatBytes(progress.totalBytes)),
                                fromStd(formatBytes(std::int64_t(progress.bytesPerSecond)))));
        };
        return fetchSnapshotBlocks(folder, begin, end, std::move(download));
    };

    const QString identityPath = m_settings.identityPath.isEmpty()
                                     ? QDir(m_dataFolder).filePath(QStringLiteral("identity.pem"))
                                     : m_settings.identityPath;
    bool shared = false;
    auto identity = loadOrCreateLocked(identityPath, m_identityLock, &shared);
    auto watcher = identity.andThen([&](const PeerIdentity &peer) {
        return makeSwarmWatcher(m_connection, m_modelId, peer.peerId());
    });
    if (!watcher) {
        m_serverProblem = fromStd(watcher.error().toString());
        return;
    }
    m_server = std::make_unique<ServerNode>(options, std::move(*identity), std::move(*watcher));
    connect(m_server.get(), &ServerNode::log, this, &EngineHost::log);
    connect(m_server.get(), &ServerNode::online, this,
            [this] { m_onlineSince = std::chrono::steady_clock::now(); });
    connect(m_server.get(), &ServerNode::failed, this, [this](const QString &message) {
        m_serverProblem = message;
        // Deleted from the event loop: failed() is emitted from inside the node.
        QTimer::singleShot(0, this, [this] { stopOwnServer(); });
    });
    if (auto started = m_server->start(); !started) {
        m_serverProblem = fromStd(started.error().toString());
        m_server.reset();
        m_identityLock.reset();
        return;
    }
    m_lastTokensServed = 0;
}

void EngineHost::stopOwnServer()
{
    if (!m_server)
        return;
    m_fetchStop.request_stop(); // a download of shards ends before the server can go
    m_server->stop();
    m_server.reset();
    m_identityLock.reset();
}

void EngineHost::setPings(const QHash<QString, double> &pingMs)
{
    m_pings = pingMs;
}

void EngineHost::setChatState(bool ready, const QString &problem)
{
    m_chatReady = ready;
    m_chatProblem = problem;
}

ContributionStatus EngineHost::contribution(double periodSeconds)
{
    ContributionStatus status;
    status.message = m_serverProblem;
    if (!m_server) {
        status.state = m_serverProblem.isEmpty() ? ServingState::Off : ServingState::Failed;
        return status;
    }
    status.state = m_server->isOnline() ? ServingState::Online : ServingState::Starting;
    std::tie(status.start, status.end) = m_server->span();
    status.port = m_server->port();
    if (const BlockServer *server = m_server->server()) {
        const ServerStats &stats = server->stats();
        status.tokensServed = stats.tokensServed;
        status.requests = stats.requests;
        status.sessionsOpen = stats.sessionsOpen;
        status.bytesIn = stats.bytesIn;
        status.bytesOut = stats.bytesOut;
        status.load = double(m_server->server()->computeQueue().pending());
        if (periodSeconds > 0)
            status.tokensPerSecond =
                double(stats.tokensServed - m_lastTokensServed) / periodSeconds;
        m_lastTokensServed = stats.tokensServed;
    }
    if (status.state == ServingState::Online)
        status.uptimeSeconds = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now() - m_onlineSince)
                                   .count();
    return status;
}

void EngineHost::fillSwarm(EngineStatus &status) const
{
    status.numBlocks = m_config.numLayers;
    if (!m_view)
        return;
    const SwarmState &state = m_view->state();
    const std::string ownPeer = m_server ? m_server->identity().peerId() : std::string();
    for (const proto::ServerRecord &record : state.records(m_modelId)) {
        PeerInfo peer;
        peer.peerId = fromStd(record.peer_id());
        peer.publicName = fromStd(record.public_name());
        peer.version = fromStd(record.version());
        peer.state = peerState(record.state());
        peer.start = record.start();
        peer.end = record.end();
        peer.throughput = record.throughput();
        peer.dtype = fromStd(record.dtype());
        peer.quantization =
            record.quantization().empty() ? QStringLiteral("none") : fromStd(record.quantization());
        peer.cacheTokensLeft = record.cache_tokens_left();
        for (const std::string &adapter : record.adapters())
            peer.adapters << fromStd(adapter);
        peer.pingMs = m_pings.value(peer.peerId, -1.0);
        peer.isThisMachine = !ownPeer.empty() && record.peer_id() == ownPeer;
        status.peers.push_back(peer);
    }
    std::vector<int> servers(std::size_t(status.numBlocks), 0);
    for (const proto::ServerRecord &record : state.servers(m_modelId)) {
        if (record.state() != proto::STATE_ONLINE)
            continue;
        for (std::int64_t block = std::max<std::int64_t>(0, record.start());
             block < std::min<std::int64_t>(status.numBlocks, record.end()); ++block)
            ++servers[std::size_t(block)];
    }
    const std::vector<double> throughput = state.blockThroughput(m_modelId, status.numBlocks);
    const auto [ownStart, ownEnd] =
        m_server ? m_server->span() : std::make_pair<std::int64_t, std::int64_t>(-1, -1);
    double slowest = std::numeric_limits<double>::infinity();
    for (std::int64_t block = 0; block < status.numBlocks; ++block) {
        BlockInfo info;
        info.servers = servers[std::size_t(block)];
        info.throughput = info.servers > 0 ? throughput[std::size_t(block)] : 0.0;
        info.servedHere = block >= ownStart && block < ownEnd;
        if (info.servers == 0)
            status.missingBlocks.push_back(block);
        slowest = std::min(slowest, info.throughput);
        status.blocks.push_back(info);
    }
    status.swarmThroughput = status.numBlocks > 0 ? slowest : 0.0;
}

void EngineHost::publishStatus()
{
    const auto now = std::chrono::steady_clock::now();
    const double period = std::chrono::duration<double>(now - m_lastStatus).count();
    m_lastStatus = now;
    EngineStatus status;
    status.modelId = fromStd(m_modelId);
    // A Hub snapshot's folder is named by its commit; the repository names the model.
    const std::optional<SnapshotLocation> snapshot = snapshotLocation(m_modelDir);
    status.modelName =
        snapshot ? QString::fromStdString(snapshot->repo) : QFileInfo(m_modelDir).fileName();
    status.demoSwarm = m_demoBoard != nullptr;
    status.swarmProblem = m_problem;
    status.chatReady = m_chatReady;
    status.chatProblem = m_chatProblem;
    status.contribution = contribution(period);
    fillSwarm(status);
    Q_EMIT statusChanged(status);
}

} // namespace corolla
