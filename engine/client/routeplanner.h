#pragma once
// Which servers a client's hidden states go through (DESIGN.md §7). A route is a chain of
// hops, each a run of consecutive blocks on one server, covering blocks [from, to). For
// inference the cheapest chain wins, by Dijkstra over block boundaries: each hop costs a
// round trip to its server plus a constant, its blocks' compute time at the server's
// announced rate, and penalties for little free cache or recent failures. For forward and
// backward passes compute is priced at the forward rate, which favours high-throughput
// servers.
// Thread: any; pure functions.

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace corolla {

struct ServerCandidate {
    std::string peerId;
    std::int64_t start = 0, end = 0;
    double inferenceRps = 0.0; // single-token steps per second, per block
    double forwardRps = 0.0;   // forward tokens per second, per block
    double rttMs = -1.0;       // measured round trip; negative when unknown
    std::int64_t cacheTokensLeft = 0;
    int recentFailures = 0;
};

struct RouteHop {
    std::string peerId;
    std::int64_t start = 0, end = 0;
};

enum class RouteKind { Inference, Forward };

struct RouteCosts {
    double hopMs = 1.0;          // fixed cost of every hop (serialisation, scheduling)
    double unknownRttMs = 50.0;  // assumed for servers not pinged yet
    double lowCacheMs = 10000.0; // a server without room for the session
    double failureMs = 2000.0;   // per recent failure
};

// The cheapest route over [from, to), or an error naming the blocks no candidate covers.
Result<std::vector<RouteHop>> planRoute(const std::vector<ServerCandidate> &candidates,
                                        std::int64_t from, std::int64_t to, RouteKind kind,
                                        std::int64_t neededCacheTokens,
                                        const RouteCosts &costs = {});

// Blocks of [from, to) that no candidate covers.
std::vector<std::int64_t> uncoveredBlocks(const std::vector<ServerCandidate> &candidates,
                                          std::int64_t from, std::int64_t to);

// " with the adapter 'NAME'" for route errors of a client that asks for a LoRA adapter;
// empty without one.
std::string adapterText(const std::string &adapter);

// "2, 3, 5-9": blocks as a short list.
std::string blockListText(const std::vector<std::int64_t> &blocks);

} // namespace corolla
