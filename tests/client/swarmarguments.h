#pragma once
// Command lines and event readers shared by the tests that run `corolla` clients against
// server processes.

#include <cstdint>
#include <string>
#include <vector>

#include <QFile>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "tools/peerprocesses.h"

namespace corolla::swarmtest {

// A server process that serves, and where clients reach it.
struct StartedServer {
    QProcess *process = nullptr;
    QString peerId;
    quint16 port = 0; // where clients connect: a relay's port when there is one
};

// Waits until `process` serves; its peer id and port. A server that does not start ends the
// test run with its log.
inline StartedServer waitUntilServing(PeerProcesses &peers, QProcess *process, const QString &name)
{
    const nlohmann::json serving = peers.waitForEvent(process, "serving");
    const nlohmann::json listening = peers.lastEvent(process, "listening");
    if (serving.empty() || listening.empty())
        qFatal("server %s did not start:\n%s", qPrintable(name), qPrintable(peers.log(process)));
    return {process, QString::fromStdString(listening["peer_id"].get<std::string>()),
            listening["port"].get<quint16>()};
}

// A server started with `arguments` and reached through a corolla-delay-relay (`relayBinary`)
// that holds every byte `delayMs` milliseconds each way: the server announces the relay's
// address, and the returned port is the relay's.
inline StartedServer startRelayedServer(PeerProcesses &peers, QStringList arguments,
                                        const QString &name, int delayMs,
                                        const QString &relayBinary)
{
    const quint16 relayPort = freeTcpPort();
    arguments << QStringLiteral("--announce-address")
              << QStringLiteral("127.0.0.1:%1").arg(relayPort);
    StartedServer server = waitUntilServing(peers, peers.start(arguments), name);
    QProcess *relay =
        peers.start({QStringLiteral("--listen"), QString::number(relayPort), QStringLiteral("--to"),
                     QStringLiteral("127.0.0.1:%1").arg(server.port), QStringLiteral("--delay-ms"),
                     QString::number(delayMs)},
                    relayBinary);
    while (!peers.log(relay).contains(QLatin1String("relaying"))
           && relay->state() == QProcess::Running)
        QTest::qWait(10);
    server.port = relayPort;
    return server;
}

// A static peers file of `servers`, at a new path in `folder`.
inline QString writePeersFile(const QTemporaryDir &folder,
                              const std::vector<StartedServer> &servers)
{
    static int count = 0;
    const QString path = folder.filePath(QStringLiteral("peers%1.txt").arg(++count));
    QFile file(path);
    file.open(QIODevice::WriteOnly);
    for (const StartedServer &server : servers)
        file.write(
            QStringLiteral("127.0.0.1:%1 %2\n").arg(server.port).arg(server.peerId).toUtf8());
    return path;
}

// A test server of `blocks` ("A:B") computing in fp32 on 127.0.0.1, which finds no peers on
// its own; its key file goes into `folder`.
inline QStringList serveArguments(const QString &model, const QString &blocks, const QString &name,
                                  const QTemporaryDir &folder)
{
    const QString noPeers = folder.filePath(QStringLiteral("no-peers.txt"));
    QFile(noPeers).open(QIODevice::WriteOnly);
    return {QStringLiteral("serve"),
            QStringLiteral("--model"),
            model,
            QStringLiteral("--blocks"),
            blocks,
            QStringLiteral("--dtype"),
            QStringLiteral("fp32"),
            QStringLiteral("--listen"),
            QStringLiteral("127.0.0.1"),
            QStringLiteral("--static-peers"),
            noPeers,
            QStringLiteral("--public-name"),
            name,
            QStringLiteral("--identity"),
            folder.filePath(name + QStringLiteral(".pem"))};
}

inline QStringList generateArguments(const QString &model, int tokens)
{
    return {
        QStringLiteral("generate"), QStringLiteral("--model"),  model,
        QStringLiteral("--ids"),    QStringLiteral("1,5,9,13"), QStringLiteral("--max-new-tokens"),
        QString::number(tokens),    QStringLiteral("--events")};
}

// The public names of the hops of a "route", "finished" or "turn" event, in order.
inline QStringList hopNames(const nlohmann::json &event)
{
    QStringList names;
    if (event.is_object() && event.contains("hops"))
        for (const nlohmann::json &hop : event["hops"])
            names << QString::fromStdString(hop["name"].get<std::string>());
    return names;
}

// The blocks an "error" event says no server holds.
inline std::vector<std::int64_t> missingBlocks(const nlohmann::json &error)
{
    if (!error.is_object() || !error.contains("blocks"))
        return {};
    return error["blocks"].get<std::vector<std::int64_t>>();
}

// The wire dtype is left at its default, which must be lossless.
inline QStringList swarmArguments(const QString &peersFile)
{
    return {QStringLiteral("--swarm"),
            QStringLiteral("--static-peers"),
            peersFile,
            QStringLiteral("--route-timeout"),
            QStringLiteral("10"),
            QStringLiteral("--step-timeout"),
            QStringLiteral("10")};
}

// A `corolla bootstrap` DHT node; its UDP port.
inline quint16 startBootstrap(PeerProcesses &peers)
{
    const quint16 port = freeUdpPort();
    QProcess *node = peers.start({QStringLiteral("bootstrap"), QStringLiteral("--port"),
                                  QString::number(port), QStringLiteral("--events")});
    if (peers.waitForEvent(node, "listening", 30000).empty())
        qFatal("the bootstrap node did not start:\n%s", qPrintable(peers.log(node)));
    return port;
}

inline QStringList dhtArguments(quint16 bootstrapPort)
{
    return {QStringLiteral("--dht-bootstrap"), QStringLiteral("127.0.0.1:%1").arg(bootstrapPort)};
}

inline QStringList dhtClientArguments(quint16 bootstrapPort, int routeTimeoutS)
{
    return QStringList{QStringLiteral("--swarm"), QStringLiteral("--route-timeout"),
                       QString::number(routeTimeoutS), QStringLiteral("--step-timeout"),
                       QStringLiteral("5")}
           + dhtArguments(bootstrapPort);
}

} // namespace corolla::swarmtest
