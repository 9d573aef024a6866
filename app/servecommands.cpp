// serve, swarm and bootstrap: the headless swarm modes.

#include <cstdio>
#include <optional>

#include <QCoreApplication>
#include <QDir>
#include <QLockFile>
#include <QStandardPaths>
#include <QTimer>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/events.h"
#include "app/modelsource.h"
#include "app/swarmoptions.h"
#include "client/routeplanner.h"
#include "core/bytesize.h"
#include "net/identity.h"
#include "server/memoryplan.h"
#include "server/servernode.h"
#include "swarm/dhtregistry.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr int kShutdownGraceMs = 500; // lets the OFFLINE announcement leave

// The peer's identity: the key file at `path`, or (empty) the one in the data folder. A second
// server on this machine finds the default key locked and runs with a fresh one of its own.
Result<PeerIdentity> loadIdentity(QString path, std::unique_ptr<QLockFile> &lock)
{
    if (path.isEmpty())
        path = QDir(dataFolder()).filePath(QStringLiteral("identity.pem"));
    bool shared = false;
    auto identity = loadOrCreateLocked(path, lock, &shared);
    if (shared)
        logLine(QStringLiteral("%1 is in use by another Corolla process; using a new identity")
                    .arg(path));
    return identity;
}

// What `corolla serve` runs with.
struct ServeCommand {
    ServeOptions server;
    SwarmConnection connection;
    QString identityPath; // empty: the data folder's
    QStringList adapters; // --adapters, as given
};

int runEventLoopUntilSignal(std::function<void()> beforeQuit)
{
    onTerminationSignal([beforeQuit] {
        logLine(QStringLiteral("stopping"));
        beforeQuit();
        QTimer::singleShot(kShutdownGraceMs, QCoreApplication::instance(), &QCoreApplication::quit);
    });
    return QCoreApplication::exec();
}

std::optional<ServeCommand> parseServe(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("serve"),
        QStringLiteral("Serves a range of a model's blocks to the swarm until stopped (Ctrl+C)."));
    parser.addValueOptions({
        {"model", "DIR|ORG/NAME", "checkpoint folder, or a Hub model (fetches its blocks' shards)"},
        {"blocks", "auto|A:B", "blocks to serve: auto (the swarm's weakest) or [A, B)", "auto"},
        {"memory-budget", "SIZE",
         "memory for blocks and cache with --blocks auto (default: half the RAM)"},
        {"dtype", "fp32|bf16", "compute dtype", "bf16"},
        {"port", "P", "TCP port (0: any free port)", "0"},
        {"listen", "ADDRESS", "address to listen on", "0.0.0.0"},
        {"announce-address", "HOST[:PORT]",
         "address others reach this server at (repeatable; default: this machine's)"},
        {"public-name", "NAME", "a name shown to the swarm"},
        {"identity", "FILE", "the peer's key file (default: in the app's data folder)"},
        {"cache-tokens", "N", "KV cache budget in tokens", "16384"},
        {"max-sessions", "N", "most inference sessions at once", "64"},
        {"session-timeout", "SECONDS", "idle sessions expire after this", "300"},
        {"announce-period", "SECONDS", "re-announce this often; records expire after two periods",
         "30"},
        {"rebalance-period", "SECONDS", "with --blocks auto, check this often whether to move",
         "120"},
        {"adapters", "ORG/NAME|DIR",
         "a LoRA adapter to serve with the blocks, announced by its Hub name or folder name "
         "(repeatable)"},
    });
    addQuantOption(parser);
    addDeviceOptions(parser);
    addRegistryOptions(parser);
    addEventsOption(parser);
    if (!parser.parse(arguments, exitCode))
        return std::nullopt;
    enableEvents(parser);
    parser.require(QStringLiteral("model"));

    ServeCommand command;
    ServeOptions &options = command.server;
    options.modelDir = parser.text(QStringLiteral("model"));
    if (auto dtype = computeDtypeFromName(parser.text(QStringLiteral("dtype"))))
        options.dtype = *dtype;
    else
        parser.error(QString::fromStdString(dtype.error().message));
    options.quantization = quantOption(parser);
    const DeviceChoice device = deviceOptions(parser);
    options.device = device.device;
    options.backend = device.backend;
    options.port = quint16(parser.integer(QStringLiteral("port"), 0, 65535));
    options.listenAddress = parser.value(QStringLiteral("listen"));
    for (const QString &address : parser.values(QStringLiteral("announce-address")))
        options.announceAddresses.push_back(address.toStdString());
    options.publicName = parser.text(QStringLiteral("public-name"));
    options.limits.cacheBudgetTokens =
        parser.integer(QStringLiteral("cache-tokens"), 1, std::int64_t(1) << 30);
    options.limits.maxSessions = parser.integer(QStringLiteral("max-sessions"), 1, 100000);
    options.limits.sessionIdleTimeoutMs =
        int(parser.number(QStringLiteral("session-timeout"), 0.1, 86400.0) * 1000);
    options.announcePeriodMs =
        int(parser.number(QStringLiteral("announce-period"), 0.2, 60.0) * 1000);
    options.rebalancePeriodMs =
        int(parser.number(QStringLiteral("rebalance-period"), 0.2, 86400.0) * 1000);
    options.throughputCachePath =
        QDir(QStandardPaths::writableLocation(QStandardPaths::CacheLocation))
            .filePath(QStringLiteral("throughput.json"))
            .toStdString();
    if (parser.value(QStringLiteral("blocks")) != QLatin1String("auto")) {
        // "auto" is the other value this option takes.
        auto range = parseBlockRange(parser.value(QStringLiteral("blocks")));
        if (range)
            options.blocks = *range;
        else
            parser.error(QString::fromStdString(range.error().message));
    }
    if (parser.isSet(QStringLiteral("memory-budget"))) {
        auto budget = parseByteSize(parser.text(QStringLiteral("memory-budget")));
        if (budget)
            options.memoryBudgetBytes = *budget;
        else
            parser.error(QStringLiteral("--memory-budget: ")
                         + QString::fromStdString(budget.error().message));
    }
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    auto connection = swarmConnection(parser);
    if (!connection) {
        exitCode = reportError("serve", connection.error().toString());
        return std::nullopt;
    }
    command.connection = std::move(*connection);
    command.identityPath = parser.value(QStringLiteral("identity"));
    command.adapters = parser.values(QStringLiteral("adapters"));
    return command;
}

int execute(const ServeCommand &command)
{
    ServeOptions options = command.server;
    auto model = resolveModel(options.modelDir);
    if (!model || model->directory.empty())
        return reportError("serve", model ? options.modelDir + ": not a model folder"
                                          : model.error().toString());
    options.modelDir = model->directory;
    for (const QString &argument : command.adapters) {
        auto adapter = adapterFolder(argument.toStdString());
        if (!adapter)
            return reportError("serve", adapter.error().toString());
        logLine(QStringLiteral("adapter %1 from %2")
                    .arg(QString::fromStdString(adapter->name),
                         QString::fromStdString(adapter->folder)));
        options.adapters.emplace_back(adapter->name, adapter->folder);
    }
    std::stop_source stopDownloads; // a download of shards ends when the server stops
    if (model->hub)
        options.fetchBlocks = [folder = QString::fromStdString(model->directory),
                               stop = stopDownloads.get_token()](std::int64_t begin,
                                                                 std::int64_t end) {
            return fetchSnapshotBlocks(folder, begin, end, terminalDownloadOptions(stop));
        };
    std::unique_ptr<QLockFile> identityLock;
    auto identity = loadIdentity(command.identityPath, identityLock);
    if (!identity)
        return reportError("serve", identity.error().toString());
    auto watcher = makeSwarmWatcher(command.connection, model->id, identity->peerId());
    if (!watcher)
        return reportError("serve", watcher.error().toString());
    for (const auto &registry : (*watcher)->registries())
        logLine(QStringLiteral("swarm registry: %1").arg(registry->name()));

    ServerNode node(options, std::move(*identity), std::move(*watcher));
    QObject::connect(&node, &ServerNode::log, &logLine);
    QObject::connect(&node, &ServerNode::online, [](qint64 begin, qint64 end) {
        emitEvent("serving", {{"start", begin}, {"end", end}});
    });
    QObject::connect(&node, &ServerNode::failed, [](const QString &message) {
        logLine(QStringLiteral("error: ") + message);
        emitEvent("failed", {{"message", message.toStdString()}});
        QCoreApplication::exit(1);
    });
    logLine(QStringLiteral("model %1 (%2 blocks)")
                .arg(QString::fromStdString(model->id))
                .arg(model->numBlocks));
    if (auto started = node.start(); !started) {
        emitErrorEvent(started.error());
        return reportError("serve", started.error().toString());
    }
    emitEvent("listening", {{"peer_id", node.identity().peerId()}, {"port", node.port()}});
    return runEventLoopUntilSignal([&node, &stopDownloads] {
        stopDownloads.request_stop();
        node.stop();
        emitEvent("stopped");
    });
}

} // namespace

int runServe(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<ServeCommand> command = parseServe(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

int runSwarm(const QStringList &arguments)
{
    CommandParser parser(QStringLiteral("swarm"),
                         QStringLiteral("Shows the servers of a model in the swarm."));
    parser.addValueOption(QStringLiteral("model"), QStringLiteral("DIR|ID"),
                          QStringLiteral("model folder or model id"));
    parser.addFlag(QStringLiteral("json"), QStringLiteral("print one JSON object"));
    parser.addValueOption(QStringLiteral("wait"), QStringLiteral("SECONDS"),
                          QStringLiteral("how long to listen to the swarm"), QStringLiteral("2"));
    addRegistryOptions(parser);
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    const double waitSeconds = parser.number(QStringLiteral("wait"), 0.0, 3600.0);
    if (parser.failed())
        return 2;
    auto model = resolveModel(parser.text(QStringLiteral("model")));
    if (!model)
        return reportError("swarm", model.error().toString());
    auto watcher = makeSwarmWatcher(parser, model->id);
    if (!watcher)
        return reportError("swarm", watcher.error().toString());
    (*watcher)->start(250); // ask again and again while we listen
    QTimer::singleShot(int(waitSeconds * 1000), QCoreApplication::instance(),
                       &QCoreApplication::quit);
    QCoreApplication::exec();

    SwarmState state = (*watcher)->state();
    state.prune(unixTimeMs());
    const std::int64_t numBlocks =
        model->numBlocks > 0 ? model->numBlocks : state.numBlocks(model->id);
    if (parser.isSet(QStringLiteral("json"))) {
        std::printf("%s\n", state.toJson(model->id, numBlocks).dump().c_str());
        return 0;
    }
    std::printf("model %s, %lld blocks\n", model->id.c_str(), static_cast<long long>(numBlocks));
    std::printf("%-12s %-16s %-9s %-8s %-8s %12s %10s  %-22s %s\n", "peer", "name", "blocks",
                "state", "weights", "throughput", "cache", "addresses", "adapters");
    for (const proto::ServerRecord &record : state.records(model->id)) {
        const std::string blocks =
            std::to_string(record.start()) + ":" + std::to_string(record.end());
        // Unpacked blocks are in the compute dtype; packed ones name their format.
        const std::string weights = record.quantization().empty() || record.quantization() == "none"
                                        ? record.dtype()
                                        : record.quantization();
        std::string adapters;
        for (const std::string &adapter : record.adapters())
            adapters += (adapters.empty() ? "" : ",") + adapter;
        std::printf("%-12s %-16.16s %-9s %-8s %-8.8s %12.1f %10lld  %-22s %s\n",
                    shortPeerId(record.peer_id()).c_str(), record.public_name().c_str(),
                    blocks.c_str(), serverStateName(record.state()), weights.c_str(),
                    record.throughput(), static_cast<long long>(record.cache_tokens_left()),
                    record.addresses_size() ? record.addresses(0).c_str() : "",
                    adapters.empty() ? "-" : adapters.c_str());
    }
    const std::vector<double> coverage = state.blockThroughput(model->id, numBlocks);
    std::vector<std::int64_t> uncovered;
    for (std::size_t block = 0; block < coverage.size(); ++block)
        if (coverage[block] <= 0.0)
            uncovered.push_back(std::int64_t(block));
    const std::string missing = blockListText(uncovered);
    if (numBlocks == 0)
        std::printf("no server of this model was found\n");
    else if (missing.empty())
        std::printf("every block is served\n");
    else
        std::printf("blocks without a server: %s\n", missing.c_str());
    return 0;
}

int runBootstrap(const QStringList &arguments)
{
    CommandParser parser(QStringLiteral("bootstrap"),
                         QStringLiteral("Runs an OpenDHT node that peers join the swarm through."));
    parser.addValueOption(QStringLiteral("port"), QStringLiteral("P"), QStringLiteral("UDP port"),
                          QString::number(4222));
    parser.addValueOption(QStringLiteral("dht-bootstrap"), QStringLiteral("HOST:PORT"),
                          QStringLiteral("other bootstrap nodes to link with (repeatable)"));
    addEventsOption(parser);
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    enableEvents(parser);
    DhtOptions options;
    options.port = quint16(parser.integer(QStringLiteral("port"), 1, 65535));
    options.bootstrapMode = true;
    for (const QString &node : parser.values(QStringLiteral("dht-bootstrap")))
        options.bootstrap.push_back(node.toStdString());
    if (parser.failed())
        return 2;
    auto registry = DhtRegistry::start(options);
    if (!registry)
        return reportError("bootstrap", registry.error().toString());
    logLine(QStringLiteral("DHT bootstrap node on UDP port %1").arg((*registry)->boundPort()));
    emitEvent("listening", {{"port", (*registry)->boundPort()}});
    return runEventLoopUntilSignal([] {});
}

} // namespace corolla
