#include "server/memoryplan.h"

#include <cmath>
#include <cstdio>

#include <unistd.h>

#include "core/bytesize.h"

namespace corolla {

std::int64_t blockParameterCount(const ModelConfig &c)
{
    const std::int64_t h = c.hiddenSize, kv = c.numKvHeads * c.headDim, q = c.numHeads * c.headDim;
    if (c.architecture == Architecture::Bloom) {
        // fused QKV and dense with biases, 4x MLP with biases, two LayerNorms
        return (h * 3 * h + 3 * h) + (h * h + h) + (h * c.intermediateSize + c.intermediateSize)
               + (c.intermediateSize * h + h) + 4 * h;
    }
    std::int64_t count = h * q + 2 * h * kv + q * h + 3 * h * c.intermediateSize + 2 * h;
    if (c.qkvBias)
        count += q + 2 * kv;
    if (c.outputBias)
        count += h;
    if (c.mlpBias)
        count += 2 * c.intermediateSize + h;
    return count;
}

std::int64_t blockWeightBytes(const ModelConfig &config, int bytesPerValue)
{
    return blockParameterCount(config) * bytesPerValue;
}

std::int64_t cacheBytesPerBlock(const ModelConfig &config, int bytesPerValue,
                                std::int64_t cacheTokens)
{
    return cacheTokens * 2 * config.numKvHeads * config.headDim * bytesPerValue;
}

Result<std::int64_t> blocksForBudget(const ModelConfig &config, int bytesPerValue,
                                     std::int64_t cacheTokens, std::int64_t budgetBytes)
{
    // Room for activations and the runtime: a tenth of the budget, at most 512 MiB.
    const std::int64_t reserve = std::min<std::int64_t>(budgetBytes / 10, std::int64_t(512) << 20);
    const std::int64_t perBlock = blockWeightBytes(config, bytesPerValue)
                                  + cacheBytesPerBlock(config, bytesPerValue, cacheTokens);
    const std::int64_t blocks = (budgetBytes - reserve) / perBlock;
    if (blocks < 1)
        return makeError(ErrorCode::InvalidArgument,
                         "a memory budget of " + formatBytes(budgetBytes)
                             + " does not hold one block (" + formatBytes(perBlock)
                             + " with its cache, plus " + formatBytes(reserve) + " reserve)");
    return std::min(blocks, config.numLayers);
}

std::int64_t defaultMemoryBudget()
{
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return std::int64_t(4) << 30;
    return std::int64_t(pages) * pageSize / 2;
}

} // namespace corolla
