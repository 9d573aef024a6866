#include "swarm/swarmconnection.h"

#include "swarm/dhtregistry.h"
#include "swarm/lanregistry.h"
#include "swarm/recordboard.h"

namespace corolla {

Result<std::unique_ptr<SwarmWatcher>> makeSwarmWatcher(const SwarmConnection &connection,
                                                       const std::string &modelId,
                                                       const std::string &serverPeerId)
{
    auto watcher = std::make_unique<SwarmWatcher>(modelId);
    if (connection.usesDht()) {
        DhtOptions options;
        options.bootstrap = connection.dhtBootstrap;
        options.port = connection.dhtPort.value_or(0);
        if (!serverPeerId.empty()) {
            options.homeModelId = modelId;
            options.homePeerId = serverPeerId;
        }
        auto registry = DhtRegistry::start(options);
        if (!registry)
            return registry.error();
        watcher->addRegistry(std::move(*registry));
    }
    if (connection.lan || connection.isEmpty()) {
        LanOptions options;
        options.port = connection.lanPort;
        auto registry = LanRegistry::start(options);
        if (!registry)
            return registry.error();
        watcher->addRegistry(std::move(*registry));
    }
    if (!connection.staticPeers.empty())
        watcher->addRegistry(std::make_unique<StaticRegistry>(connection.staticPeers));
    if (connection.board)
        watcher->addRegistry(std::make_unique<BoardRegistry>(connection.board));
    return watcher;
}

} // namespace corolla
