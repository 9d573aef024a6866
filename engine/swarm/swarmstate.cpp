#include "swarm/swarmstate.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "swarm/serverrecord.h"

namespace corolla {

void SwarmState::insert(const proto::ServerRecord &record)
{
    auto key = std::make_pair(record.model_id(), record.peer_id());
    auto it = m_records.find(key);
    if (it == m_records.end() || it->second.announced_at_ms() <= record.announced_at_ms())
        m_records[key] = record;
}

void SwarmState::prune(std::int64_t nowMs)
{
    std::erase_if(m_records,
                  [nowMs](const auto &entry) { return entry.second.expires_at_ms() <= nowMs; });
}

std::vector<proto::ServerRecord> SwarmState::records(const std::string &modelId) const
{
    std::vector<proto::ServerRecord> result;
    for (auto it = m_records.lower_bound({modelId, std::string()});
         it != m_records.end() && it->first.first == modelId; ++it)
        result.push_back(it->second);
    std::stable_sort(result.begin(), result.end(), [](const auto &a, const auto &b) {
        return a.start() != b.start() ? a.start() < b.start() : a.peer_id() < b.peer_id();
    });
    return result;
}

std::vector<proto::ServerRecord> SwarmState::servers(const std::string &modelId) const
{
    std::vector<proto::ServerRecord> result = records(modelId);
    std::erase_if(result,
                  [](const auto &record) { return record.state() == proto::STATE_OFFLINE; });
    return result;
}

std::int64_t SwarmState::numBlocks(const std::string &modelId) const
{
    std::int64_t blocks = 0;
    for (const auto &record : records(modelId))
        blocks = std::max(blocks, record.num_blocks());
    return blocks;
}

std::vector<double> SwarmState::blockThroughput(const std::string &modelId, std::int64_t numBlocks,
                                                const std::string &excludePeer) const
{
    std::vector<double> throughput(std::size_t(std::max<std::int64_t>(0, numBlocks)), 0.0);
    for (const auto &record : servers(modelId)) {
        if (record.peer_id() == excludePeer || record.num_blocks() != numBlocks)
            continue;
        for (std::int64_t block = record.start(); block < record.end(); ++block)
            throughput[std::size_t(block)] += record.throughput();
    }
    return throughput;
}

nlohmann::json SwarmState::toJson(const std::string &modelId, std::int64_t numBlocks) const
{
    nlohmann::json servers = nlohmann::json::array();
    for (const auto &record : records(modelId)) {
        servers.push_back({
            {"peer_id", record.peer_id()},
            {"public_name", record.public_name()},
            {"addresses",
             std::vector<std::string>(record.addresses().begin(), record.addresses().end())},
            {"start", record.start()},
            {"end", record.end()},
            {"state", serverStateName(record.state())},
            {"throughput", record.throughput()},
            {"inference_rps", record.inference_rps()},
            {"forward_rps", record.forward_rps()},
            {"cache_tokens_left", record.cache_tokens_left()},
            {"version", record.version()},
            {"dtype", record.dtype()},
            {"quantization", record.quantization().empty() ? "none" : record.quantization()},
            {"adapters",
             std::vector<std::string>(record.adapters().begin(), record.adapters().end())},
        });
    }
    return {{"model", modelId}, {"num_blocks", numBlocks}, {"servers", servers}};
}

} // namespace corolla
