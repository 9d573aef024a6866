#pragma once
// The options that say how to find the swarm, shared by serve, swarm, generate --swarm and
// chat: OpenDHT bootstrap nodes, LAN discovery, a static peers file.
// Thread: main.

#include <memory>
#include <optional>
#include <string>

#include "app/commandparser.h"
#include "core/result.h"
#include "hub/hubcache.h"
#include "swarm/swarmconnection.h"

namespace corolla {

void addRegistryOptions(CommandParser &parser);

// A watcher for `modelId` with the registries the options ask for. With none asked for,
// LAN discovery alone (zero configuration on a home network). A server passes its peer id.
Result<std::unique_ptr<SwarmWatcher>> makeSwarmWatcher(const CommandParser &parser,
                                                       const std::string &modelId,
                                                       const std::string &serverPeerId = {});
// The registries the options ask for.
Result<SwarmConnection> swarmConnection(const CommandParser &parser);

// A model folder (with config.json) gives its id and block count; so does a Hub model
// ORG/NAME[@REVISION], whose config, tokenizer and index are fetched first; anything else is
// taken as a model id whose block count the swarm will tell.
struct ModelReference {
    std::string id;
    std::string directory; // empty for a bare id
    std::int64_t numBlocks = 0;
    std::optional<RepoRef> hub; // when it came from the Hub: its weights may still be missing
};
Result<ModelReference> resolveModel(const std::string &dirOrIdOrRepo);

// Where this peer keeps its identity, measurements and (in the app) the demo model and
// conversations: ~/.local/share/Corolla/Corolla on Linux.
QString dataFolder();

// "[HH:MM:SS] message" on stderr: the log of the long-running modes.
void logLine(const QString &message);

// Calls `handler` once on the main thread when SIGINT or SIGTERM arrives.
void onTerminationSignal(std::function<void()> handler);

} // namespace corolla
