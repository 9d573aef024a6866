#include "peerprocesses.h"

#include <csignal>
#include <optional>

#include <sys/prctl.h>

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTcpServer>
#include <QTimer>
#include <QUdpSocket>

#include "core/events.h"
#include "net/rpcchannel.h"

namespace corolla {

PeerProcesses::PeerProcesses(QString binary)
    : m_binary(std::move(binary))
{
}

PeerProcesses::~PeerProcesses()
{
    for (auto &process : m_processes)
        kill(process.get());
}

QProcessEnvironment PeerProcesses::environment() const
{
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("XDG_DATA_HOME"), m_folder.filePath(QStringLiteral("data")));
    environment.insert(QStringLiteral("XDG_CACHE_HOME"),
                       m_folder.filePath(QStringLiteral("cache")));
    environment.insert(QStringLiteral("XDG_CONFIG_HOME"),
                       m_folder.filePath(QStringLiteral("config")));
    // Several peers share two cores: one compute thread each keeps them from starving.
    environment.insert(QStringLiteral("COROLLA_NUM_THREADS"), QStringLiteral("1"));
    for (const auto &[name, value] : m_environment) {
        if (value.isEmpty())
            environment.remove(name);
        else
            environment.insert(name, value);
    }
    return environment;
}

QProcess *PeerProcesses::start(const QStringList &arguments, const QString &program)
{
    auto process = std::make_unique<QProcess>();
    process->setProcessEnvironment(environment());
    process->setProgram(program.isEmpty() ? m_binary : program);
    process->setArguments(arguments);
    process->setReadChannel(QProcess::StandardError);
    // If this test process dies without cleaning up, the kernel stops the peer too.
    process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    process->start();
    process->waitForStarted();
    m_processes.push_back(std::move(process));
    return m_processes.back().get();
}

std::pair<int, QByteArray> PeerProcesses::run(const QStringList &arguments, int timeoutMs) const
{
    Outcome outcome = runToEnd(arguments, {}, timeoutMs);
    return {outcome.exitCode, outcome.out};
}

PeerProcesses::Outcome PeerProcesses::runToEnd(const QStringList &arguments, const QString &program,
                                               int timeoutMs) const
{
    QProcess process;
    process.setProcessEnvironment(environment());
    process.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    process.start(program.isEmpty() ? m_binary : program, arguments);
    Outcome outcome;
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished();
    } else if (process.exitStatus() == QProcess::NormalExit) {
        outcome.exitCode = process.exitCode();
    }
    outcome.out = process.readAllStandardOutput();
    outcome.err = QString::fromUtf8(process.readAllStandardError());
    return outcome;
}

void PeerProcesses::setEnvironment(const QString &name, const QString &value)
{
    m_environment[name] = value;
}

void PeerProcesses::kill(QProcess *process)
{
    if (process->state() == QProcess::NotRunning)
        return;
    process->kill();
    process->waitForFinished(10000);
}

int PeerProcesses::terminate(QProcess *process, int timeoutMs)
{
    if (process->state() == QProcess::NotRunning)
        return process->exitCode();
    process->terminate();
    if (!process->waitForFinished(timeoutMs)) {
        kill(process);
        return -1;
    }
    return process->exitStatus() == QProcess::NormalExit ? process->exitCode() : -1;
}

QString PeerProcesses::log(QProcess *process) const
{
    // Everything read so far is kept, so each call sees the whole log.
    QByteArray &text = m_logs[process];
    text += process->readAllStandardError();
    return QString::fromUtf8(text);
}

std::vector<nlohmann::json> PeerProcesses::events(QProcess *process) const
{
    return parseEvents(log(process).toStdString());
}

nlohmann::json PeerProcesses::lastEvent(QProcess *process, std::string_view name) const
{
    const std::vector<nlohmann::json> all = events(process);
    for (auto it = all.rbegin(); it != all.rend(); ++it)
        if ((*it)["event"] == name)
            return *it;
    return nlohmann::json::object();
}

nlohmann::json PeerProcesses::waitForEvent(QProcess *process, std::string_view name,
                                           int timeoutMs) const
{
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        nlohmann::json event = lastEvent(process, name);
        if (!event.empty() || process->state() == QProcess::NotRunning
            || timer.elapsed() > timeoutMs)
            return event;
        QEventLoop loop;
        QTimer::singleShot(20, &loop, &QEventLoop::quit);
        loop.exec();
    }
}

QString PeerProcesses::logs() const
{
    QString text;
    for (const auto &process : m_processes)
        text +=
            process->arguments().join(QLatin1Char(' ')) + QLatin1Char('\n') + log(process.get());
    return text;
}

quint16 freeUdpPort()
{
    QUdpSocket socket;
    socket.bind(QHostAddress::LocalHost, 0);
    return socket.localPort();
}

quint16 freeTcpPort()
{
    QTcpServer server;
    server.listen(QHostAddress::LocalHost, 0);
    return server.serverPort();
}

Result<proto::Response> callAndWait(RpcChannel &channel, const proto::Request &request,
                                    int timeoutMs)
{
    std::optional<Result<proto::Response>> answer;
    QEventLoop loop;
    channel.call(
        request,
        [&](Result<proto::Response> response) {
            answer = std::move(response);
            loop.quit();
        },
        timeoutMs);
    if (!answer)
        loop.exec();
    return std::move(*answer);
}

} // namespace corolla
