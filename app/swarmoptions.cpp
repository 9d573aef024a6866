#include "app/swarmoptions.h"

#include <csignal>
#include <cstdio>

#include <unistd.h>

#include <QDir>
#include <QFileInfo>
#include <QSocketNotifier>
#include <QTime>

#include "model/modelconfig.h"
#include "swarm/dhtregistry.h"
#include "swarm/lanregistry.h"
#include "swarm/serverrecord.h"
#include "swarm/staticregistry.h"

namespace corolla {

void addRegistryOptions(CommandParser &parser)
{
    parser.addValueOption(QStringLiteral("dht-bootstrap"), QStringLiteral("HOST:PORT"),
                          QStringLiteral("an OpenDHT node to join the internet swarm through (repeatable)"));
    parser.addValueOption(QStringLiteral("dht-port"), QStringLiteral("PORT"),
                          QStringLiteral("UDP port of this peer's DHT node (default: any free port)"));
    parser.addFlag(QStringLiteral("lan"), QStringLiteral("find peers on the local network by multicast"));
    parser.addValueOption(QStringLiteral("lan-port"), QStringLiteral("PORT"),
                          QStringLiteral("UDP port of LAN discovery"), QString::number(LanOptions().port));
    parser.addValueOption(QStringLiteral("static-peers"), QStringLiteral("FILE"),
                          QStringLiteral("a file of servers, one 'HOST:PORT [PEER_ID]' per line"));
}

Result<std::unique_ptr<SwarmWatcher>> makeSwarmWatcher(const CommandParser &parser,
                                                       const std::string &modelId)
{
    auto watcher = std::make_unique<SwarmWatcher>(modelId);
    const QStringList bootstrap = parser.values(QStringLiteral("dht-bootstrap"));
    const bool useDht = !bootstrap.isEmpty() || parser.isSet(QStringLiteral("dht-port"));
    const bool useStatic = parser.isSet(QStringLiteral("static-peers"));
    const bool useLan = parser.isSet(QStringLiteral("lan")) || (!useDht && !useStatic);
    if (useDht) {
        DhtOptions options;
        for (const QString &node : bootstrap)
            options.bootstrap.push_back(node.toStdString());
        if (parser.isSet(QStringLiteral("dht-port"))) {
            bool ok = false;
            const uint port = parser.value(QStringLiteral("dht-port")).toUInt(&ok);
            if (!ok || port > 65535)
                return makeError(ErrorCode::InvalidArgument, "--dht-port must be a port number");
            options.port = quint16(port);
        }
        auto registry = DhtRegistry::start(options);
        if (!registry)
            return registry.error();
        watcher->addRegistry(std::move(*registry));
    }
    if (useLan) {
        LanOptions options;
        bool ok = false;
        const uint port = parser.value(QStringLiteral("lan-port")).toUInt(&ok);
        if (!ok || port == 0 || port > 65535)
            return makeError(ErrorCode::InvalidArgument, "--lan-port must be a port number");
        options.port = quint16(port);
        auto registry = LanRegistry::start(options);
        if (!registry)
            return registry.error();
        watcher->addRegistry(std::move(*registry));
    }
    if (useStatic) {
        auto peers = readStaticPeers(parser.text(QStringLiteral("static-peers")));
        if (!peers)
            return peers.error();
        watcher->addRegistry(std::make_unique<StaticRegistry>(std::move(*peers)));
    }
    return watcher;
}

Result<ModelReference> resolveModel(const std::string &dirOrId)
{
    ModelReference reference;
    if (QFileInfo(QDir(QString::fromStdString(dirOrId)).filePath(QStringLiteral("config.json"))).isFile()) {
        auto config = ModelConfig::load(dirOrId);
        if (!config)
            return config.error();
        auto id = modelIdForDirectory(dirOrId);
        if (!id)
            return id.error();
        reference.id = *id;
        reference.directory = dirOrId;
        reference.numBlocks = config->numLayers;
        return reference;
    }
    if (dirOrId.empty() || dirOrId.find('/') == 0 || QFileInfo::exists(QString::fromStdString(dirOrId)))
        return makeError(ErrorCode::NotFound, dirOrId + ": not a model folder (no config.json)");
    reference.id = dirOrId;
    return reference;
}

void logLine(const QString &message)
{
    std::fprintf(stderr, "[%s] %s\n", qPrintable(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))),
                 qPrintable(message));
    std::fflush(stderr);
}

namespace {

int g_signalPipe[2] = {-1, -1};

void writeToSignalPipe(int)
{
    const char byte = 1;
    [[maybe_unused]] const ssize_t written = ::write(g_signalPipe[1], &byte, 1);
}

} // namespace

void onTerminationSignal(std::function<void()> handler)
{
    // The self-pipe trick: the signal handler only writes a byte; the event loop reads it.
    if (::pipe(g_signalPipe) != 0)
        return;
    auto *notifier = new QSocketNotifier(g_signalPipe[0], QSocketNotifier::Read);
    QObject::connect(notifier, &QSocketNotifier::activated, notifier, [notifier, handler] {
        char byte;
        [[maybe_unused]] const ssize_t read = ::read(g_signalPipe[0], &byte, 1);
        notifier->setEnabled(false);
        handler();
    });
    struct sigaction action = {};
    action.sa_handler = writeToSignalPipe;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

} // namespace corolla
