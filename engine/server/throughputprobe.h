#pragma once
// How fast this machine runs blocks, measured once at start and cached per model, dtype,
// device and thread count. Rates are per block: a server of n blocks that makes s inference
// steps per second has an inference rate of s * n block-steps per second.
// Thread: measure() on the compute thread; the cache anywhere.

#include <optional>
#include <string>

#include "core/compute.h"
#include "core/result.h"

namespace corolla {

class BlockSpan;

struct BlockThroughput {
    double inferenceRps = 0.0; // single-token steps with a KV cache, x blocks
    double forwardRps = 0.0;   // tokens of a 128-token forward, x blocks
};

Result<BlockThroughput> measureThroughput(const BlockSpan &span);

// A small JSON file of measured rates.
class ThroughputCache {
public:
    explicit ThroughputCache(std::string path)
        : m_path(std::move(path))
    {
    }

    static std::string key(const std::string &modelId, ComputeDtype dtype,
                           Quantization quantization, const ComputeDevice &device, int threads);
    std::optional<BlockThroughput> find(const std::string &key) const;
    // Best effort: a cache that cannot be written only costs a new probe next time.
    void store(const std::string &key, const BlockThroughput &throughput) const;

private:
    std::string m_path;
};

} // namespace corolla
