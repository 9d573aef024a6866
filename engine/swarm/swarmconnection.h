#pragma once
// How a peer finds its swarm: OpenDHT bootstrap nodes, LAN multicast, a static list of
// servers, or an in-process board (the desktop app's local demo swarm). One value type,
// filled from the command line or from the app's settings, turned into a SwarmWatcher.
// Thread: any (the watcher it makes belongs to the calling thread).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "swarm/staticregistry.h"
#include "swarm/swarmwatcher.h"

namespace corolla {

class RecordBoard;

struct SwarmConnection {
    std::vector<std::string> dhtBootstrap; // "host:port" of OpenDHT nodes
    std::optional<quint16> dhtPort;        // this peer's DHT port (0: any free one)
    bool lan = false;
    quint16 lanPort = 46779;
    std::vector<StaticPeer> staticPeers;
    std::shared_ptr<RecordBoard> board; // in-process peers

    bool usesDht() const { return !dhtBootstrap.empty() || dhtPort.has_value(); }
    // With nothing asked for, LAN discovery alone: zero configuration on a home network.
    bool isEmpty() const { return !usesDht() && !lan && staticPeers.empty() && !board; }
    bool operator==(const SwarmConnection &) const = default; // the same board, not an equal one
};

// A watcher for `modelId` with every registry `connection` names (LAN alone when empty). A
// server passes its peer id: its DHT node then sits next to the model's key.
Result<std::unique_ptr<SwarmWatcher>> makeSwarmWatcher(const SwarmConnection &connection,
                                                       const std::string &modelId,
                                                       const std::string &serverPeerId = {});

} // namespace corolla
