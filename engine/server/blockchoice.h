#pragma once
// Which blocks a server holds (DESIGN.md §6, Petals' rule): the span whose per-block swarm
// throughput, sorted, is lexicographically smallest — the weakest blocks first — and a
// periodic check whether moving would lift the swarm's weakest block enough.
// Thread: any; pure functions.

#include <cstdint>
#include <string>
#include <vector>

namespace corolla {

// A server as block choice sees it.
struct PlacedServer {
    std::string peerId;
    std::int64_t start = 0;
    std::int64_t end = 0;
    double throughput = 0.0;
};

// The start of the best span of `length` blocks given per-block throughput.
std::int64_t chooseSpanStart(const std::vector<double> &blockThroughput, std::int64_t length);

// Per-block sums of the servers' throughput.
std::vector<double> blockThroughputOf(const std::vector<PlacedServer> &servers,
                                      std::int64_t numBlocks);

// Moving is worth it when, after this server re-places itself and then every other server
// greedily does the same until nothing changes, the swarm's minimum block throughput grows
// past current / balanceQuality. `self` must be among `servers`.
constexpr double kBalanceQuality = 0.75;
bool shouldMove(const std::vector<PlacedServer> &servers, const std::string &self,
                std::int64_t numBlocks, double balanceQuality = kBalanceQuality);

} // namespace corolla
