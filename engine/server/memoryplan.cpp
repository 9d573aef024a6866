#include "server/memoryplan.h"

#include <cmath>
#include <cstdio>

#include <unistd.h>

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
                         "a memory budget of " + formatBytes(budgetBytes) + " does not hold one block ("
                             + formatBytes(perBlock) + " with its cache, plus "
                             + formatBytes(reserve) + " reserve)");
    return std::min(blocks, config.numLayers);
}

Result<std::int64_t> parseByteSize(const std::string &text)
{
    char *end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    std::string unit(end ? end : "");
    for (char &c : unit)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    double scale = 0.0;
    if (unit.empty() || unit == "b")
        scale = 1.0;
    else if (unit == "k" || unit == "kb")
        scale = 1e3;
    else if (unit == "kib")
        scale = 1024.0;
    else if (unit == "m" || unit == "mb")
        scale = 1e6;
    else if (unit == "mib")
        scale = 1024.0 * 1024.0;
    else if (unit == "g" || unit == "gb")
        scale = 1e9;
    else if (unit == "gib")
        scale = 1024.0 * 1024.0 * 1024.0;
    else if (unit == "t" || unit == "tb")
        scale = 1e12;
    else if (unit == "tib")
        scale = 1024.0 * 1024.0 * 1024.0 * 1024.0;
    if (end == text.c_str() || scale == 0.0 || !std::isfinite(value) || value <= 0.0
        || value * scale > 9e18)
        return makeError(ErrorCode::InvalidArgument,
                         "'" + text + "' is not a size (examples: 8GiB, 512MB, 1.5G)");
    return std::int64_t(value * scale);
}

std::string formatBytes(std::int64_t bytes)
{
    char text[32];
    const double gib = double(bytes) / double(1 << 30);
    if (gib >= 1.0)
        std::snprintf(text, sizeof text, "%.2f GiB", gib);
    else
        std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / double(1 << 20));
    return text;
}

std::int64_t defaultMemoryBudget()
{
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return std::int64_t(4) << 30;
    return std::int64_t(pages) * pageSize / 2;
}

} // namespace corolla
