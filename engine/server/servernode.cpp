#include "server/servernode.h"

#include "core/gpuinfo.h"

#include <QHostAddress>
#include <QNetworkInterface>
#include <QRandomGenerator>

#include <ATen/Parallel.h>

#include "core/bytesize.h"
#include "core/gpuinfo.h"
#include "loader/checkpoint.h"
#include "model/blockspan.h"
#include "net/hostport.h"
#include "net/queuedcall.h"
#include "server/blockchoice.h"
#include "server/memoryplan.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr int kActivityLogPeriodMs = 10000;
constexpr int kJoinListenMs = 2500;
constexpr int kJoinJitterMs = 1000;

QString spanText(std::int64_t begin, std::int64_t end)
{
    return QStringLiteral("[%1, %2)").arg(begin).arg(end);
}

} // namespace

ServerNode::ServerNode(ServeOptions options, PeerIdentity identity,
                       std::unique_ptr<SwarmWatcher> watcher, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_identity(std::move(identity))
    , m_watcher(std::move(watcher))
{
    m_watcher->setParent(nullptr);
    connect(&m_announceTimer, &QTimer::timeout, this, &ServerNode::announce);
    m_balanceTimer.setSingleShot(true);
    connect(&m_balanceTimer, &QTimer::timeout, this, &ServerNode::checkBalance);
    connect(&m_activityTimer, &QTimer::timeout, this, &ServerNode::logActivity);
    connect(m_watcher.get(), &SwarmWatcher::problem, this, &ServerNode::log);
}

ServerNode::~ServerNode()
{
    // The server's compute queue may still be loading: stop it before what it refers to.
    m_server.reset();
}

quint16 ServerNode::port() const
{
    return m_server ? m_server->port() : 0;
}

Result<void> ServerNode::start()
{
    auto config = ModelConfig::load(m_options.modelDir);
    if (!config)
        return config.error();
    m_config = *config;
    auto placement = resolvePlacement(m_options.device, m_options.backend);
    if (!placement)
        return placement.error();
    m_placement = *placement;
    const int bytesPerValue = int(at::elementSize(scalarTypeOf(m_options.dtype)));
    if (auto quantizable = checkQuantizable(m_config, m_options.quantization); !quantizable)
        return quantizable.error();

    if (m_options.blocks) {
        const auto [begin, end] = *m_options.blocks;
        if (begin < 0 || end > m_config.numLayers || begin >= end)
            return makeError(ErrorCode::InvalidArgument,
                             "--blocks " + std::to_string(begin) + ":" + std::to_string(end)
                                 + " is not inside the model's "
                                 + std::to_string(m_config.numLayers) + " blocks");
        m_spanLength = end - begin;
    } else {
        auto budget = memoryBudget();
        if (!budget)
            return budget.error();
        auto blocks = blocksForBudget(m_config, bytesPerValue, m_options.limits.cacheBudgetTokens,
                                      *budget, m_options.quantization);
        if (!blocks)
            return blocks.error();
        m_spanLength = *blocks;
        if (m_options.blockCount > 0)
            m_spanLength = std::min({m_spanLength, m_options.blockCount, m_config.numLayers});
        Q_EMIT log(
            QStringLiteral(
                "memory budget %1 on %6 holds %2 of %3 blocks (%4 of weights and %5 of cache "
                "each)")
                .arg(QString::fromStdString(formatBytes(*budget)))
                .arg(m_spanLength)
                .arg(m_config.numLayers)
                .arg(QString::fromStdString(
                    formatBytes(blockWeightBytes(m_config, bytesPerValue, m_options.quantization))))
                .arg(QString::fromStdString(formatBytes(cacheBytesPerBlock(
                    m_config, bytesPerValue, m_options.limits.cacheBudgetTokens))))
                .arg(QString::fromStdString(m_placement.name())));
    }

    m_server = std::make_unique<BlockServer>(m_identity, modelId(), m_options.limits);
    if (!m_server->listen(m_options.listenAddress, m_options.port))
        return makeError(ErrorCode::Io, "cannot listen on " + m_options.listenAddress.toStdString()
                                            + ":" + std::to_string(m_options.port) + ": "
                                            + m_server->listenError().toStdString());
    Q_EMIT log(QStringLiteral("peer %1 listening on port %2")
                   .arg(QString::fromStdString(m_identity.peerId()))
                   .arg(m_server->port()));
    m_watcher->start(std::max(200, m_options.announcePeriodMs / 2));

    if (m_options.blocks) {
        load(m_options.blocks->first, m_options.blocks->second);
    } else {
        // Listen to the swarm for a moment before choosing, with some jitter so that servers
        // started together do not all pick the same blocks.
        const int wait = kJoinListenMs + int(QRandomGenerator::global()->bounded(kJoinJitterMs));
        QTimer::singleShot(wait, this, &ServerNode::chooseAndLoad);
    }
    return {};
}

Result<std::int64_t> ServerNode::memoryBudget() const
{
    if (m_options.memoryBudgetBytes > 0)
        return m_options.memoryBudgetBytes;
    if (m_placement.device.is_cpu())
        return defaultMemoryBudget();
    const auto gpu = nvmlGpu(m_placement.device.index());
    if (!gpu)
        return makeError(ErrorCode::NotFound,
                         m_placement.name()
                             + ": the driver's NVML library does not report this GPU's free "
                               "memory; give the budget with --memory-budget");
    return gpuMemoryBudget(gpu->freeBytes);
}

void ServerNode::chooseAndLoad()
{
    if (m_phase == Phase::Stopped)
        return;
    const std::vector<double> throughput =
        m_watcher->state().blockThroughput(modelId(), m_config.numLayers, m_identity.peerId());
    const std::int64_t begin = chooseSpanStart(throughput, m_spanLength);
    const std::size_t others = m_watcher->state().servers(modelId()).size();
    Q_EMIT log(
        QStringLiteral("the swarm has %1 other server(s) of this model; blocks %2 are the weakest")
            .arg(others)
            .arg(spanText(begin, begin + m_spanLength)));
    load(begin, begin + m_spanLength);
}

void ServerNode::load(std::int64_t begin, std::int64_t end)
{
    m_phase = Phase::Loading;
    m_begin = begin;
    m_end = end;
    announce(); // JOINING: others see where we are going before the weights are in
    Q_EMIT log(QStringLiteral("loading blocks %1 in %2, weights %3")
                   .arg(spanText(begin, end),
                        QString::fromLatin1(computeDtypeName(m_options.dtype)),
                        QString::fromLatin1(quantizationName(m_options.quantization))));
    const ThroughputCache cache(m_options.throughputCachePath);
    const std::string key = ThroughputCache::key(modelId(), m_options.dtype, m_options.quantization,
                                                 m_options.device, at::get_num_threads());
    const std::optional<BlockThroughput> cached =
        m_options.throughputCachePath.empty() ? std::nullopt : cache.find(key);
    m_server->computeQueue().post(
        ComputeQueue::Priority::Background,
        [this, begin, end, cached, cache, key, config = m_config, dir = m_options.modelDir,
         dtype = scalarTypeOf(m_options.dtype), quantization = m_options.quantization,
         fetch = m_options.fetchBlocks, adapterFolders = m_options.adapters,
         placement = m_placement] {
            Result<std::shared_ptr<BlockSpan>> span = makeError(ErrorCode::Internal, "not loaded");
            BlockServer::Adapters adapters;
            BlockThroughput throughput;
            try {
                // The compute thread's own stream on a GPU: every later job runs on it too.
                useOwnStream(placement.device);
                auto fetched = fetch ? fetch(begin, end) : Result<void>();
                auto checkpoint = fetched ? Checkpoint::open(dir)
                                          : Result<std::unique_ptr<Checkpoint>>(fetched.error());
                if (!checkpoint)
                    span = checkpoint.error();
                else if (auto loaded = BlockSpan::load(config, **checkpoint, begin, end, dtype,
                                                       quantization, placement);
                         !loaded)
                    span = loaded.error();
                else
                    span = std::shared_ptr<BlockSpan>(std::move(*loaded));
                for (const auto &[name, folder] : adapterFolders) {
                    if (!span)
                        break;
                    auto adapter = LoraAdapter::load(folder, name, config, begin, end, dtype,
                                                     placement.device);
                    if (!adapter)
                        span = makeError(adapter.error().code,
                                         "adapter " + name + ": " + adapter.error().message);
                    else
                        adapters[name] = std::make_shared<const LoraAdapter>(std::move(*adapter));
                }
                if (span && cached) {
                    throughput = *cached;
                } else if (span) {
                    auto measured = measureThroughput(**span);
                    if (measured) {
                        throughput = *measured;
                        if (!cache.find(key))
                            cache.store(key, throughput);
                    }
                }
            } catch (const std::exception &error) {
                span =
                    makeError(ErrorCode::Internal, std::string("loading failed: ") + error.what());
            }
            postTo(this, [this, begin, end, span = std::move(span), adapters = std::move(adapters),
                          throughput]() mutable {
                onLoaded(begin, end, std::move(span), std::move(adapters), throughput);
            });
        });
}

void ServerNode::onLoaded(std::int64_t begin, std::int64_t end,
                          Result<std::shared_ptr<BlockSpan>> span, BlockServer::Adapters adapters,
                          BlockThroughput throughput)
{
    if (m_phase == Phase::Stopped)
        return;
    if (!span) {
        m_phase = Phase::Failed;
        Q_EMIT failed(QString::fromStdString(span.error().toString()));
        return;
    }
    m_throughput = throughput;
    m_server->setSpan(std::move(*span), std::move(adapters));
    m_phase = Phase::Online;
    Q_EMIT log(QStringLiteral(
                   "serving blocks %1: %2 inference steps/s and %3 forward tokens/s through them")
                   .arg(spanText(begin, end))
                   .arg(throughput.inferenceRps / double(end - begin), 0, 'f', 1)
                   .arg(throughput.forwardRps / double(end - begin), 0, 'f', 1));
    announce();
    m_announceTimer.start(m_options.announcePeriodMs);
    if (!m_options.blocks)
        scheduleBalanceCheck();
    m_activityTimer.start(kActivityLogPeriodMs);
    Q_EMIT online(begin, end);
}

std::vector<std::string> ServerNode::addresses() const
{
    const QString port = QString::number(m_server->port());
    std::vector<std::string> result;
    if (!m_options.announceAddresses.empty()) {
        // HOST, or HOST:PORT for a server reached through a forwarded port or a relay.
        for (const std::string &address : m_options.announceAddresses)
            result.push_back(parseHostPort(address) ? address : address + ":" + port.toStdString());
        return result;
    }
    const QHostAddress listen(m_options.listenAddress);
    if (listen != QHostAddress::AnyIPv4 && listen != QHostAddress::Any)
        return {m_options.listenAddress.toStdString() + ":" + port.toStdString()};
    // The public address the DHT saw (behind NAT, the router's: forward the port there), then
    // every address of this machine, the loopback last (for peers on this machine).
    for (const auto &registry : m_watcher->registries())
        for (const std::string &host : registry->publicHosts())
            result.push_back(host + ":" + port.toStdString());
    // Container and VM bridges come after the machine's own network: a peer elsewhere
    // cannot reach them, and one on this machine also has the loopback.
    std::vector<std::string> bridged;
    for (const QNetworkInterface &interface : QNetworkInterface::allInterfaces()) {
        if (!interface.flags().testFlag(QNetworkInterface::IsUp)
            || interface.flags().testFlag(QNetworkInterface::IsLoopBack))
            continue;
        const QString name = interface.name();
        const bool bridge =
            name.startsWith(QLatin1String("docker")) || name.startsWith(QLatin1String("br-"))
            || name.startsWith(QLatin1String("veth")) || name.startsWith(QLatin1String("virbr"))
            || name.startsWith(QLatin1String("vboxnet")) || name.startsWith(QLatin1String("lxc"));
        for (const QNetworkAddressEntry &entry : interface.addressEntries())
            if (entry.ip().protocol() == QAbstractSocket::IPv4Protocol)
                (bridge ? bridged : result)
                    .push_back(entry.ip().toString().toStdString() + ":" + port.toStdString());
    }
    result.insert(result.end(), bridged.begin(), bridged.end());
    // Records carry a bounded list (kMaxRecordAddresses); the loopback always fits.
    if (result.size() >= std::size_t(kMaxRecordAddresses))
        result.resize(std::size_t(kMaxRecordAddresses) - 1);
    result.push_back("127.0.0.1:" + port.toStdString());
    return result;
}

proto::ServerRecord ServerNode::makeRecord() const
{
    proto::ServerRecord record;
    record.set_model_id(modelId());
    record.set_num_blocks(m_config.numLayers);
    record.set_peer_id(m_identity.peerId());
    for (const std::string &address : addresses())
        record.add_addresses(address);
    switch (m_phase) {
    case Phase::Idle:
    case Phase::Loading: record.set_state(proto::STATE_JOINING); break;
    case Phase::Online: record.set_state(proto::STATE_ONLINE); break;
    case Phase::Failed:
    case Phase::Stopped: record.set_state(proto::STATE_OFFLINE); break;
    }
    record.set_start(m_begin);
    record.set_end(m_end);
    record.set_inference_rps(m_throughput.inferenceRps);
    record.set_forward_rps(m_throughput.forwardRps);
    // Tokens per second through the whole span, what each of its blocks adds to the swarm.
    // The network rate is not measured yet; until it is, compute alone sets the throughput.
    record.set_throughput(m_end > m_begin ? m_throughput.inferenceRps / double(m_end - m_begin)
                                          : 0.0);
    record.set_dtype(std::string(computeDtypeName(m_options.dtype)));
    record.set_quantization(std::string(quantizationName(m_options.quantization)));
    for (const auto &[name, folder] : m_options.adapters)
        record.add_adapters(name);
    record.set_cache_tokens_left(m_server->cacheTokensLeft());
    record.set_version(COROLLA_VERSION);
    record.set_public_name(m_options.publicName);
    record.set_hidden_size(m_config.hiddenSize);
    const std::int64_t now = unixTimeMs();
    record.set_announced_at_ms(now);
    record.set_expires_at_ms(now + 2 * std::int64_t(m_options.announcePeriodMs));
    return record;
}

void ServerNode::announce()
{
    if (m_begin < 0)
        return;
    m_server->setSignedRecord(m_watcher->publish(makeRecord(), m_identity));
}

void ServerNode::scheduleBalanceCheck()
{
    // Servers started together would otherwise check, and move, in lockstep: each seeing the
    // same gap, all of them would jump into it and leave the old place empty.
    const double spread = 0.5 + QRandomGenerator::global()->generateDouble();
    m_balanceTimer.start(int(m_options.rebalancePeriodMs * spread));
}

void ServerNode::checkBalance()
{
    if (m_phase != Phase::Online)
        return;
    std::vector<PlacedServer> servers;
    for (const proto::ServerRecord &record : m_watcher->state().servers(modelId()))
        if (record.num_blocks() == m_config.numLayers)
            servers.push_back(
                {record.peer_id(), record.start(), record.end(), record.throughput()});
    if (!shouldMove(servers, m_identity.peerId(), m_config.numLayers)) {
        scheduleBalanceCheck();
        return;
    }
    const std::vector<double> others =
        m_watcher->state().blockThroughput(modelId(), m_config.numLayers, m_identity.peerId());
    const std::int64_t begin = chooseSpanStart(others, m_spanLength);
    Q_EMIT log(QStringLiteral("moving from blocks %1 to %2: it lifts the swarm's weakest block")
                   .arg(spanText(m_begin, m_end), spanText(begin, begin + m_spanLength)));
    m_balanceTimer.stop();
    m_activityTimer.stop();
    m_announceTimer.stop();
    load(begin, begin + m_spanLength);
}

void ServerNode::logActivity()
{
    const ServerStats &stats = m_server->stats();
    if (stats.tokensServed == m_loggedTokens)
        return;
    Q_EMIT log(QStringLiteral("served %1 tokens in %2 requests; %3 sessions open, %4 connections, "
                              "%5 cache tokens left")
                   .arg(stats.tokensServed)
                   .arg(stats.requests)
                   .arg(stats.sessionsOpen)
                   .arg(stats.connections)
                   .arg(m_server->cacheTokensLeft()));
    m_loggedTokens = stats.tokensServed;
}

void ServerNode::stop()
{
    if (m_phase == Phase::Stopped)
        return;
    m_phase = Phase::Stopped;
    m_announceTimer.stop();
    m_balanceTimer.stop();
    m_activityTimer.stop();
    announce(); // OFFLINE
    Q_EMIT log(QStringLiteral("stopped serving"));
}

} // namespace corolla
