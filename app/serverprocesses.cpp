#include "app/serverprocesses.h"

#include <csignal>

#include <sys/prctl.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QTcpServer>
#include <QUdpSocket>

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

Result<QString> ServerProcesses::waitForLog(QProcess *process, const QString &marker)
{
    QByteArray log;
    QElapsedTimer timer;
    timer.start();
    while (!log.contains(marker.toUtf8())) {
        if (process->state() == QProcess::NotRunning || timer.elapsed() > kStartTimeoutMs)
            return makeError(ErrorCode::Internal,
                             process->program().toStdString() + " did not start:\n"
                                 + (log + process->readAllStandardError()).toStdString());
        process->waitForReadyRead(100);
        log += process->readAllStandardError();
    }
    return QString::fromUtf8(log);
}

Result<quint16> ServerProcesses::startBootstrap()
{
    QUdpSocket probe;
    probe.bind(QHostAddress::LocalHost, 0);
    const quint16 port = probe.localPort();
    probe.close();
    QProcess *node =
        launch(QCoreApplication::applicationFilePath(),
               {QStringLiteral("bootstrap"), QStringLiteral("--port"), QString::number(port)});
    if (auto log = waitForLog(node, QStringLiteral("DHT bootstrap node")); !log)
        return log.error();
    return port;
}

Result<LocalServer> ServerProcesses::start(const std::string &model, std::int64_t begin,
                                           std::int64_t end, const std::string &dtype, int delayMs,
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
                          QStringLiteral("--listen"),
                          QStringLiteral("127.0.0.1"),
                          QStringLiteral("--public-name"),
                          QStringLiteral("bench") + index,
                          QStringLiteral("--identity"),
                          m_folder.filePath(QStringLiteral("peer%1.pem").arg(index))};
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
    auto log = waitForLog(server, QStringLiteral("serving blocks"));
    if (!log)
        return log.error();
    const QRegularExpressionMatch match =
        QRegularExpression(QStringLiteral("peer (\\w+) listening on port (\\d+)")).match(*log);
    if (!match.hasMatch())
        return makeError(ErrorCode::Internal,
                         "the server did not say where it listens:\n" + log->toStdString());
    LocalServer result{match.captured(1).toStdString(), quint16(match.captured(2).toUInt()),
                       server};
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

} // namespace corolla
