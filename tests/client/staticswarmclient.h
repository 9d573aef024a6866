#pragma once
// A client of the tests' server processes that knows exactly them (a static registry), for
// the tests that call RemoteForward or the planner in-process.

#include <memory>
#include <vector>

#include <QtGlobal>

#include "client/swarmarguments.h"
#include "client/swarmclient.h"
#include "swarm/modelidentity.h"
#include "swarm/staticregistry.h"

namespace corolla::swarmtest {

// A client of the model in folder `model` over `servers`, returned once it sees them all.
inline std::unique_ptr<SwarmClient> staticSwarmClient(const QString &model,
                                                      const std::vector<StartedServer> &servers)
{
    std::vector<StaticPeer> peers;
    for (const StartedServer &server : servers)
        peers.push_back({"127.0.0.1", server.port, server.peerId.toStdString()});
    auto modelId = modelIdForDirectory(model.toStdString());
    if (!modelId)
        qFatal("%s", modelId.error().message.c_str());
    auto client = SwarmClient::start(
        [peers, id = *modelId]() -> Result<std::unique_ptr<SwarmWatcher>> {
            auto watcher = std::make_unique<SwarmWatcher>(id);
            watcher->addRegistry(std::make_unique<StaticRegistry>(peers));
            return watcher;
        },
        500);
    if (!client)
        qFatal("%s", client.error().message.c_str());
    const std::size_t count = servers.size();
    if (!(*client)->waitForServers([&](const auto &found) { return found.size() == count; }, 30000))
        qFatal("the client did not see the %zu servers", count);
    return std::move(*client);
}

} // namespace corolla::swarmtest
