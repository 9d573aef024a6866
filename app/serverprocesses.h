#pragma once
// `corolla serve` processes on 127.0.0.1 that this process starts and always stops again
// (also if it dies: the kernel kills them), optionally each behind a delaying TCP relay,
// and a DHT bootstrap node for them. Used by `corolla bench swarm` and `bench soak`.
// Thread: main.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <QProcess>
#include <QTemporaryDir>

#include "client/swarmclient.h"
#include "core/compute.h"
#include "core/result.h"

namespace corolla {

struct LocalServer {
    std::string peerId;
    quint16 port = 0;            // where clients connect (the relay's port when there is one)
    QProcess *process = nullptr; // owned by the ServerProcesses that started it
};

class ServerProcesses {
public:
    ServerProcesses();
    ~ServerProcesses(); // kills what is still running

    // Starts a server of blocks [begin, end) of `model` computing in `dtype`, its weights
    // packed as `quantization`; with delayMs > 0 behind a relay
    // (`relayProgram`) that delays each direction by delayMs. Without `extraArguments` it
    // finds no peers (clients are told where it is); with them, say --dht-bootstrap, it
    // joins that swarm. Waits until it serves.
    Result<LocalServer> start(const std::string &model, std::int64_t begin, std::int64_t end,
                              const std::string &dtype, Quantization quantization, int delayMs,
                              const QString &relayProgram, const QStringList &extraArguments = {});
    // Starts `corolla bootstrap` on a free UDP port of 127.0.0.1; that port.
    Result<quint16> startBootstrap();

private:
    QProcess *launch(const QString &program, const QStringList &arguments);
    // Waits until `done` accepts the process's stderr so far; that stderr.
    Result<QByteArray> waitUntil(QProcess *process,
                                 const std::function<bool(const QByteArray &)> &done);
    // Waits until the process's stderr holds `marker`.
    Result<void> waitForLog(QProcess *process, const QString &marker);
    // Waits until the process (run with --events) reports the event `name`; its events so far.
    Result<std::vector<nlohmann::json>> waitForEvent(QProcess *process, std::string_view name);

    QTemporaryDir m_folder;
    std::vector<std::unique_ptr<QProcess>> m_processes;
};

// `count` servers of `model` (numBlocks blocks) with equal shares of the blocks in order, as
// ServerProcesses::start() starts them, and a client that knows exactly those servers,
// returned once it sees them all. Progress goes to stderr.
Result<std::unique_ptr<SwarmClient>>
startEvenSwarm(ServerProcesses &processes, const std::string &model, std::int64_t numBlocks,
               std::int64_t count, const std::string &dtype, Quantization quantization,
               int delayMs = 0, const QString &relayProgram = {});

} // namespace corolla
