#pragma once
// What this peer knows of the swarm: the newest verified record of every server, merged
// from every registry, with expired records dropped.
// Thread: the engine thread.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "net/corolla.pb.h"

namespace corolla {

class SwarmState {
public:
    // Keeps the record if it is newer than what we hold for its (model, peer).
    void insert(const proto::ServerRecord &record);
    // Forgets records that expired at nowMs.
    void prune(std::int64_t nowMs);

    // Servers of `modelId` that are joining or online, ordered by span start then peer id.
    std::vector<proto::ServerRecord> servers(const std::string &modelId) const;
    // Every record of the model, offline ones included.
    std::vector<proto::ServerRecord> records(const std::string &modelId) const;
    // Number of blocks as announced by the model's servers (0 when none are known).
    std::int64_t numBlocks(const std::string &modelId) const;

    // Per block, the summed throughput of the servers covering it, leaving `excludePeer`
    // out (a server planning its own move).
    std::vector<double> blockThroughput(const std::string &modelId, std::int64_t numBlocks,
                                        const std::string &excludePeer = {}) const;

    // The `corolla swarm --json` object.
    nlohmann::json toJson(const std::string &modelId, std::int64_t numBlocks) const;

private:
    // (model id, peer id) -> newest record
    std::map<std::pair<std::string, std::string>, proto::ServerRecord> m_records;
};

} // namespace corolla
