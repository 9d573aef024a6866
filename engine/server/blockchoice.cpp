#include "server/blockchoice.h"

#include <algorithm>

namespace corolla {

std::int64_t chooseSpanStart(const std::vector<double> &blockThroughput, std::int64_t length)
{
    const auto numBlocks = std::int64_t(blockThroughput.size());
    length = std::clamp<std::int64_t>(length, 1, std::max<std::int64_t>(1, numBlocks));
    std::int64_t best = 0;
    std::vector<double> bestKey;
    for (std::int64_t start = 0; start + length <= numBlocks; ++start) {
        std::vector<double> key(blockThroughput.begin() + start,
                                blockThroughput.begin() + start + length);
        std::sort(key.begin(), key.end());
        if (start == 0 || key < bestKey) {
            best = start;
            bestKey = std::move(key);
        }
    }
    return best;
}

std::vector<double> blockThroughputOf(const std::vector<PlacedServer> &servers,
                                      std::int64_t numBlocks)
{
    std::vector<double> throughput(std::size_t(std::max<std::int64_t>(0, numBlocks)), 0.0);
    for (const PlacedServer &server : servers)
        for (std::int64_t block = std::max<std::int64_t>(0, server.start);
             block < std::min(server.end, numBlocks); ++block)
            throughput[std::size_t(block)] += server.throughput;
    return throughput;
}

namespace {

double minimum(const std::vector<double> &values)
{
    return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}

// Takes `server` out of the swarm and puts it back at its best place; whether it moved.
bool replace(std::vector<PlacedServer> &servers, std::size_t index, std::int64_t numBlocks)
{
    PlacedServer &server = servers[index];
    const std::int64_t length = server.end - server.start;
    std::vector<PlacedServer> others = servers;
    others.erase(others.begin() + std::ptrdiff_t(index));
    const std::int64_t start = chooseSpanStart(blockThroughputOf(others, numBlocks), length);
    if (start == server.start)
        return false;
    server.start = start;
    server.end = start + length;
    return true;
}

} // namespace

bool shouldMove(const std::vector<PlacedServer> &servers, const std::string &self,
                std::int64_t numBlocks, double balanceQuality)
{
    auto selfIt = std::find_if(servers.begin(), servers.end(),
                               [&](const PlacedServer &server) { return server.peerId == self; });
    if (selfIt == servers.end() || numBlocks <= 0)
        return false;
    const double current = minimum(blockThroughputOf(servers, numBlocks));

    std::vector<PlacedServer> simulated = servers;
    const auto selfIndex = std::size_t(selfIt - servers.begin());
    if (!replace(simulated, selfIndex, numBlocks))
        return false; // already where it would go
    // Everyone else reacts, until the placement settles (bounded: it may cycle).
    for (int round = 0; round < 8; ++round) {
        bool moved = false;
        for (std::size_t i = 0; i < simulated.size(); ++i)
            if (i != selfIndex)
                moved = replace(simulated, i, numBlocks) || moved;
        if (!moved)
            break;
    }
    const double improved = minimum(blockThroughputOf(simulated, numBlocks));
    return improved > current / balanceQuality || (current == 0.0 && improved > 0.0);
}

} // namespace corolla
