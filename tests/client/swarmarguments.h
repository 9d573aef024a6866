#pragma once
// Command lines and event readers shared by the tests that run `corolla` clients against
// server processes.

#include <cstdint>
#include <string>
#include <vector>

#include <QProcess>
#include <QStringList>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "tools/peerprocesses.h"

namespace corolla::swarmtest {

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
