#pragma once
// Helpers for tests that run real peers: `corolla` processes that are always stopped (killed
// when the group goes, and by the kernel if the test process itself dies), free ports, and
// a blocking call over an RpcChannel that keeps this thread's event loop running.

#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <QByteArray>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>

#include "core/result.h"
#include "net/corolla.pb.h"

namespace corolla {

class RpcChannel;

class PeerProcesses {
public:
    explicit PeerProcesses(QString binary);
    ~PeerProcesses(); // SIGKILLs and reaps every process still running

    // Starts `corolla <arguments>` (or another program) with private data and cache folders
    // and one compute thread.
    QProcess *start(const QStringList &arguments, const QString &program = {});
    // Runs `corolla <arguments>` to the end; its exit code and stdout.
    std::pair<int, QByteArray> run(const QStringList &arguments, int timeoutMs = 60000) const;
    // Runs `corolla <arguments>` (or another program) to the end; exit code, stdout, stderr.
    struct Outcome {
        int exitCode = -1; // -1: crashed, or killed after timeoutMs
        QByteArray out;
        QString err;
    };
    Outcome runToEnd(const QStringList &arguments, const QString &program = {},
                     int timeoutMs = 300000) const;
    // An environment variable for the processes started from now on (an empty value unsets it).
    void setEnvironment(const QString &name, const QString &value);

    void kill(QProcess *process);
    // SIGTERM, then waits for the exit; the exit code (-1 if it had to be killed).
    int terminate(QProcess *process, int timeoutMs = 10000);
    // What the process wrote to stderr so far.
    QString log(QProcess *process) const;
    // The events (`--events`, see core/events.h) the process wrote so far, in order.
    std::vector<nlohmann::json> events(QProcess *process) const;
    // The last event named `name` so far; an empty object when there is none.
    nlohmann::json lastEvent(QProcess *process, std::string_view name) const;
    // Waits (spinning the event loop) until the process writes an event named `name`; an
    // empty object when it exits first or `timeoutMs` passes.
    nlohmann::json waitForEvent(QProcess *process, std::string_view name,
                                int timeoutMs = 60000) const;
    // Every process's log, for failure messages.
    QString logs() const;

    QString folder() const { return m_folder.path(); }

private:
    QProcessEnvironment environment() const;

    QString m_binary;
    QTemporaryDir m_folder;
    std::vector<std::unique_ptr<QProcess>> m_processes;
    mutable std::map<QProcess *, QByteArray> m_logs;
    std::map<QString, QString> m_environment;
};

// Ports on 127.0.0.1 that were free a moment ago.
quint16 freeUdpPort();
quint16 freeTcpPort();

// Calls and spins the event loop until the answer (or the deadline) arrives.
Result<proto::Response> callAndWait(RpcChannel &channel, const proto::Request &request,
                                    int timeoutMs = 30000);

} // namespace corolla
