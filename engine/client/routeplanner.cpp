#include "client/routeplanner.h"

#include <algorithm>
#include <limits>
#include <queue>

namespace corolla {

std::vector<std::int64_t> uncoveredBlocks(const std::vector<ServerCandidate> &candidates,
                                          std::int64_t from, std::int64_t to)
{
    std::vector<std::int64_t> missing;
    for (std::int64_t block = from; block < to; ++block) {
        const bool covered = std::any_of(candidates.begin(), candidates.end(), [&](const auto &c) {
            return c.start <= block && block < c.end;
        });
        if (!covered)
            missing.push_back(block);
    }
    return missing;
}

std::string blockListText(const std::vector<std::int64_t> &blocks)
{
    std::string text;
    for (std::size_t i = 0; i < blocks.size();) {
        std::size_t j = i;
        while (j + 1 < blocks.size() && blocks[j + 1] == blocks[j] + 1)
            ++j;
        text += (text.empty() ? "" : ", ") + std::to_string(blocks[i]);
        if (j > i)
            text += "-" + std::to_string(blocks[j]);
        i = j + 1;
    }
    return text;
}

Result<std::vector<RouteHop>> planRoute(const std::vector<ServerCandidate> &candidates,
                                        std::int64_t from, std::int64_t to, RouteKind kind,
                                        std::int64_t neededCacheTokens, const RouteCosts &costs)
{
    if (from >= to)
        return std::vector<RouteHop>();
    if (const auto missing = uncoveredBlocks(candidates, from, to); !missing.empty())
        return makeError(ErrorCode::NotFound, "no server holds block"
                                                  + std::string(missing.size() > 1 ? "s " : " ")
                                                  + blockListText(missing));

    // Nodes are block boundaries from..to; an edge b -> e uses one server for blocks [b, e).
    const auto nodes = std::size_t(to - from + 1);
    constexpr double kInfinity = std::numeric_limits<double>::infinity();
    std::vector<double> distance(nodes, kInfinity);
    struct Edge {
        std::size_t previous = 0;
        std::size_t server = 0;
    };
    std::vector<Edge> arrivedBy(nodes);
    using Entry = std::pair<double, std::size_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue;
    distance[0] = 0.0;
    queue.push({0.0, 0});
    while (!queue.empty()) {
        const auto [cost, node] = queue.top();
        queue.pop();
        if (cost > distance[node])
            continue;
        const std::int64_t block = from + std::int64_t(node);
        for (std::size_t s = 0; s < candidates.size(); ++s) {
            const ServerCandidate &server = candidates[s];
            if (server.start > block || block >= server.end)
                continue;
            const double rate =
                kind == RouteKind::Inference ? server.inferenceRps : server.forwardRps;
            const double perBlockMs = rate > 0.0 ? 1000.0 / rate : 1000.0;
            double hopCost = costs.hopMs + (server.rttMs >= 0.0 ? server.rttMs : costs.unknownRttMs)
                             + costs.failureMs * server.recentFailures;
            if (kind == RouteKind::Inference && server.cacheTokensLeft < neededCacheTokens)
                hopCost += costs.lowCacheMs;
            for (std::int64_t end = block + 1; end <= std::min(server.end, to); ++end) {
                const double total = cost + hopCost + perBlockMs * double(end - block);
                const auto next = std::size_t(end - from);
                if (total < distance[next]) {
                    distance[next] = total;
                    arrivedBy[next] = {node, s};
                    queue.push({total, next});
                }
            }
        }
    }
    std::vector<RouteHop> route;
    for (std::size_t node = nodes - 1; node != 0; node = arrivedBy[node].previous) {
        const ServerCandidate &server = candidates[arrivedBy[node].server];
        route.push_back({server.peerId, from + std::int64_t(arrivedBy[node].previous),
                         from + std::int64_t(node)});
    }
    std::reverse(route.begin(), route.end());
    return route;
}

std::string adapterText(const std::string &adapter)
{
    return adapter.empty() ? std::string() : " with the adapter '" + adapter + "'";
}

} // namespace corolla
