#include "app/serverprocesses.h"

#include <algorithm>
#include <csignal>

#include <sys/prctl.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QTcpServer>
#include <QUdpSocket>

#include "core/events.h"
#include "swarm/modelidentity.h"
#include "swarm/staticregistry.h"

namespace corolla {

namespace {

constexpr int kStartTimeoutMs = 10 * 60 * 1000; // big checkpoints take a while to load

quint16 freeTcpPort()
{
    QTcpServer server;
    server.listen(QHostAddress::LocalHost, 0);
    return server.serverPort();
}

} // namespace

ServerProcesses::ServerProcesses() = default;

ServerProcesses::~ServerProcesses()
{
    for (auto &process : m_processes) {
        process->kill();
        process->waitForFinished(10000);
    }
}

QProcess *ServerProcesses::launch(const QString &program, const QStringList &arguments)
{
    auto process = std::make_unique<QProcess>();
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("XDG_DATA_HOME"), m_folder.filePath(QStringLiteral("data")));
    process->setProcessEnvironment(environment);
    process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    process->start(program, arguments);
    m_processes.push_back(std::move(process));
    return m_processes.back().get();
}

Result<QByteArray> ServerProcesses::waitUntil(QProcess *process,
                                              const std::function<bool(const QByteArray &)> &done)
{
    QByteArray log;
    QElapsedTimer timer;
    timer.start();
    while (!done(log)) {
        if (process->state() == QProcess::NotRunning || timer.elapsed() > kStartTimeoutMs)
            return makeError(ErrorCode::Internal,
                             process->program().toStdString() + " did not start:\n"
                                 + (log + process->readAllStandardError()).toStdString());
        process->waitForReadyRead(100);
        log += process->readAllStandardError();
    }
    return log;
}

Result<void> ServerProcesses::waitForLog(QProcess *process, const QString &marker)
{
    auto log =
        waitUntil(process, [&](const QByteArray &text) { return text.contains(marker.toUtf8()); });
    if (!log)
        return log.error();
    return {};
}

Result<std::vector<nlohmann::json>> ServerProcesses::waitForEvent(QProcess *process,
                                                                  std::string_view name)
{
    std::vector<nlohmann::json> events; // of the log as last read
    auto hasEvent = [&events, name](const QByteArray &text) {
        events = parseEvents(text.toStdString());
        return std::any_of(events.begin(), events.end(),
                           [name](const nlohmann::json &event) { return event["event"] == name; });
    };
    if (auto log = waitUntil(process, hasEvent); !log)
        return log.error();
    return events;
}

Result<quint16> ServerProcesses::startBootstrap()
{
    QUdpSocket probe;
    probe.bind(QHostAddress::LocalHost, 0);
    const quint16 port = probe.localPort();
    probe.close();
    QProcess *node = launch(QCoreApplication::applicationFilePath(),
                            {QStringLiteral("bootstrap"), QStringLiteral("--port"),
                             QString::number(port), QStringLiteral("--events")});
    if (auto events = waitForEvent(node, "listening"); !events)
        return events.error();
    return port;
}

Result<LocalServer> ServerProcesses::start(const std::string &model, std::int64_t begin,
                                           std::int64_t end, const std::string &dtype,
                                           Quantization quantization, int delayMs,
                                           const QString &relayProgram,
                                           const QStringList &extraArguments)
{
    const QString index = QString::number(m_processes.size());
    const quint16 relayPort = delayMs > 0 ? freeTcpPort() : 0;
    QStringList arguments{QStringLiteral("serve"),
                          QStringLiteral("--model"),
                          QString::fromStdString(model),
                          QStringLiteral("--blocks"),
                          QStringLiteral("%1:%2").arg(begin).arg(end),
                          QStringLiteral("--dtype"),
                          QString::fromStdString(dtype),
                          QStringLiteral("--quant"),
                          QString::fromLatin1(quantizationName(quantization)),
                          QStringLiteral("--listen"),
                          QStringLiteral("127.0.0.1"),
                          QStringLiteral("--public-name"),
                          QStringLiteral("bench") + index,
                          QStringLiteral("--identity"),
                          m_folder.filePath(QStringLiteral("peer%1.pem").arg(index)),
                          QStringLiteral("--events")};
    if (extraArguments.isEmpty()) {
        const QString noPeers = m_folder.filePath(QStringLiteral("no-peers.txt"));
        QFile(noPeers).open(QIODevice::WriteOnly);
        arguments << QStringLiteral("--static-peers") << noPeers;
    }
    arguments += extraArguments;
    if (relayPort)
        arguments << QStringLiteral("--announce-address")
                  << QStringLiteral("127.0.0.1:%1").arg(relayPort);
    QProcess *server = launch(QCoreApplication::applicationFilePath(), arguments);
    auto events = waitForEvent(server, "serving");
    if (!events)
        return events.error();
    // "listening" comes before "serving".
    const auto listening =
        std::find_if(events->begin(), events->end(),
                     [](const nlohmann::json &event) { return event["event"] == "listening"; });
    if (listening == events->end())
        return makeError(ErrorCode::Internal, "the server did not say where it listens");
    LocalServer result{(*listening)["peer_id"].get<std::string>(),
                       (*listening)["port"].get<quint16>(), server};
    if (relayPort) {
        QProcess *relay = launch(
            relayProgram, {QStringLiteral("--listen"), QString::number(relayPort),
                           QStringLiteral("--to"), QStringLiteral("127.0.0.1:%1").arg(result.port),
                           QStringLiteral("--delay-ms"), QString::number(delayMs)});
        if (auto relayLog = waitForLog(relay, QStringLiteral("relaying")); !relayLog)
            return relayLog.error();
        result.port = relayPort;
    }
    return result;
}

Result<std::unique_ptr<SwarmClient>>
startEvenSwarm(ServerProcesses &processes, const std::string &model, std::int64_t numBlocks,
               std::int64_t count, const std::string &dtype, Quantization quantization, int delayMs,
               const QString &relayProgram)
{
    if (count < 1 || count > numBlocks)
        return makeError(ErrorCode::InvalidArgument, "cannot share " + std::to_string(numBlocks)
                                                         + " blocks among " + std::to_string(count)
                                                         + " servers");
    std::fprintf(stderr, "starting %lld servers...\n", static_cast<long long>(count));
    std::vector<StaticPeer> peers;
    for (std::int64_t i = 0; i < count; ++i) {
        auto server = processes.start(model, numBlocks * i / count, numBlocks * (i + 1) / count,
                                      dtype, quantization, delayMs, relayProgram);
        if (!server)
            return server.error();
        peers.push_back({"127.0.0.1", server->port, server->peerId});
    }
    auto modelId = modelIdForDirectory(model);
    if (!modelId)
        return modelId.error();
    auto swarm = SwarmClient::start(
        [peers, id = *modelId]() -> Result<std::unique_ptr<SwarmWatcher>> {
            auto watcher = std::make_unique<SwarmWatcher>(id);
            watcher->addRegistry(std::make_unique<StaticRegistry>(peers));
            return watcher;
        },
        1000);
    if (!swarm)
        return swarm.error();
    if (!(*swarm)->waitForServers(
            [&](const auto &servers) { return std::int64_t(servers.size()) == count; }, 30000))
        return makeError(ErrorCode::Timeout, "the client did not reach every server");
    return swarm;
}

} // namespace corolla
