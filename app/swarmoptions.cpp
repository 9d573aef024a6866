#include "app/swarmoptions.h"

#include <csignal>
#include <cstdio>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QSocketNotifier>
#include <QStandardPaths>
#include <QTime>

#include "app/modelsource.h"
#include "model/modelconfig.h"
#include "swarm/modelidentity.h"
#include "swarm/serverrecord.h"

namespace corolla {

void addRegistryOptions(CommandParser &parser)
{
    parser.addValueOptions({
        {"dht-bootstrap", "HOST:PORT",
         "an OpenDHT node to join the internet swarm through (repeatable)"},
        {"dht-port", "PORT", "UDP port of this peer's DHT node (default: any free port)"},
    });
    parser.addFlag(QStringLiteral("lan"),
                   QStringLiteral("find peers on the local network by multicast"));
    parser.addValueOption(QStringLiteral("lan-port"), QStringLiteral("PORT"),
                          QStringLiteral("UDP port of LAN discovery"),
                          QString::number(SwarmConnection().lanPort));
    parser.addValueOption(QStringLiteral("static-peers"), QStringLiteral("FILE"),
                          QStringLiteral("a file of servers, one 'HOST:PORT [PEER_ID]' per line"));
}

Result<std::unique_ptr<SwarmWatcher>> makeSwarmWatcher(const CommandParser &parser,
                                                       const std::string &modelId,
                                                       const std::string &serverPeerId)
{
    auto connection = swarmConnection(parser);
    if (!connection)
        return connection.error();
    return makeSwarmWatcher(*connection, modelId, serverPeerId);
}

Result<SwarmConnection> swarmConnection(const CommandParser &parser)
{
    SwarmConnection connection;
    for (const QString &node : parser.values(QStringLiteral("dht-bootstrap")))
        connection.dhtBootstrap.push_back(node.toStdString());
    auto port = [&parser](const char *name, uint minimum) -> Result<quint16> {
        bool ok = false;
        const uint value = parser.value(QLatin1String(name)).toUInt(&ok);
        if (!ok || value < minimum || value > 65535)
            return makeError(ErrorCode::InvalidArgument,
                             std::string("--") + name + " must be a port number");
        return quint16(value);
    };
    if (parser.isSet(QStringLiteral("dht-port"))) {
        auto dhtPort = port("dht-port", 0);
        if (!dhtPort)
            return dhtPort.error();
        connection.dhtPort = *dhtPort;
    }
    connection.lan = parser.isSet(QStringLiteral("lan"));
    auto lanPort = port("lan-port", 1);
    if (!lanPort)
        return lanPort.error();
    connection.lanPort = *lanPort;
    if (parser.isSet(QStringLiteral("static-peers"))) {
        auto peers = readStaticPeers(parser.text(QStringLiteral("static-peers")));
        if (!peers)
            return peers.error();
        connection.staticPeers = std::move(*peers);
    }
    return connection;
}

Result<ModelReference> resolveModel(const std::string &dirOrIdOrRepo)
{
    std::string dirOrId = dirOrIdOrRepo;
    ModelReference reference;
    if (looksLikeRepoRef(dirOrIdOrRepo)) {
        auto folder = modelFolder(dirOrIdOrRepo, metadataOnly());
        if (!folder)
            return folder.error();
        dirOrId = *folder;
        reference.hub = parseRepoRef(dirOrIdOrRepo).value();
    }
    if (QFileInfo(QDir(QString::fromStdString(dirOrId)).filePath(QStringLiteral("config.json")))
            .isFile()) {
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
    if (dirOrId.empty() || dirOrId.find('/') == 0
        || QFileInfo::exists(QString::fromStdString(dirOrId)))
        return makeError(ErrorCode::NotFound, dirOrId + ": not a model folder (no config.json)");
    reference.id = dirOrId;
    return reference;
}

QString dataFolder()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
}

void logLine(const QString &message)
{
    std::fprintf(stderr, "[%s] %s\n",
                 qPrintable(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))),
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
    // Owned by the application, so that it goes when the event loop's program ends.
    auto *notifier =
        new QSocketNotifier(g_signalPipe[0], QSocketNotifier::Read, QCoreApplication::instance());
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
