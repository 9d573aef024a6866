#include "server/memoryplan.h"

#include <cmath>
#include <cstdio>

#ifdef _WIN32
#define NOMINMAX
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "core/bytesize.h"
#include "model/linearweight.h"

namespace corolla {

namespace {

// The values of a Gemma block's norms: four of the hidden size, and Gemma 3's two per head.
std::int64_t gemmaNormValues(const ModelConfig &c)
{
    return 4 * c.hiddenSize + (c.qkNorm ? 2 * c.headDim : 0);
}

} // namespace

std::int64_t blockParameterCount(const ModelConfig &c)
{
    const std::int64_t h = c.hiddenSize, kv = c.numKvHeads * c.headDim, q = c.numHeads * c.headDim;
    if (c.architecture == Architecture::Falcon) {
        // fused QKV, dense and MLP (with biases if any), one or two LayerNorms with biases
        const std::int64_t qkv = q + 2 * kv, ffn = c.intermediateSize;
        const bool twoNorms = (c.falcon.newDecoder && c.falcon.twoNorms) || !c.falcon.parallel;
        std::int64_t count = h * qkv + h * h + 2 * h * ffn + (twoNorms ? 4 : 2) * h;
        if (c.qkvBias)
            count += qkv + h + ffn + h;
        return count;
    }
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
    if (c.qkNorm)
        count += 2 * c.headDim;
    if (c.architecture == Architecture::Gemma)
        count += 2 * h; // pre_ and post_feedforward_layernorm besides Llama's two norms
    if (c.architecture == Architecture::Mixtral) // every expert and the router, not one MLP
        count += (c.numExperts - 1) * 3 * h * c.intermediateSize + c.numExperts * h;
    return count;
}

std::vector<ProjectionShape> blockProjectionShapes(const ModelConfig &c)
{
    const std::int64_t h = c.hiddenSize, ffn = c.intermediateSize;
    const std::int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    if (c.architecture == Architecture::Bloom || c.architecture == Architecture::Falcon)
        return {{"self_attention.query_key_value.weight", q + 2 * kv, h},
                {"self_attention.dense.weight", h, h},
                {"mlp.dense_h_to_4h.weight", ffn, h},
                {"mlp.dense_4h_to_h.weight", h, ffn}};
    std::vector<ProjectionShape> shapes = {{"self_attn.q_proj.weight", q + 2 * kv, h},
                                           {"self_attn.o_proj.weight", h, q}};
    if (c.architecture != Architecture::Mixtral) {
        shapes.push_back({"mlp.gate_proj.weight", 2 * ffn, h});
        shapes.push_back({"mlp.down_proj.weight", h, ffn});
        return shapes;
    }
    for (std::int64_t e = 0; e < c.numExperts; ++e) {
        const std::string expert = "block_sparse_moe.experts." + std::to_string(e) + ".";
        shapes.push_back({expert + "w1.weight", 2 * ffn, h});
        shapes.push_back({expert + "w2.weight", h, ffn});
    }
    return shapes;
}

std::int64_t blockWeightBytes(const ModelConfig &config, int bytesPerValue,
                              Quantization quantization, int absmaxBytes)
{
    std::int64_t values = blockParameterCount(config), bytes = 0;
    for (const ProjectionShape &projection : blockProjectionShapes(config)) {
        values -= projection.out * projection.in;
        bytes += packedWeightBytes(quantization, projection.out, projection.in, bytesPerValue,
                                   absmaxBytes);
    }
    // Gemma holds its norms' scales (1 + weight) in fp32 whatever the compute dtype.
    if (config.architecture == Architecture::Gemma)
        bytes += gemmaNormValues(config) * (4 - bytesPerValue);
    return bytes + values * bytesPerValue;
}

Result<void> checkQuantizable(const ModelConfig &config, Quantization quantization)
{
    if (quantization != Quantization::Nf4)
        return {};
    for (const ProjectionShape &projection : blockProjectionShapes(config)) {
        if (projection.in % kNf4BlockSize != 0)
            return makeError(ErrorCode::InvalidArgument,
                             "nf4 packs rows in blocks of 64 values, and this model's "
                                 + projection.name + " rows hold " + std::to_string(projection.in)
                                 + "; int8 packs any width");
    }
    return {};
}

std::int64_t cacheBytesPerBlock(const ModelConfig &config, int bytesPerValue,
                                std::int64_t cacheTokens)
{
    return cacheTokens * 2 * config.numKvHeads * config.headDim * bytesPerValue;
}

Result<std::int64_t> blocksForBudget(const ModelConfig &config, int bytesPerValue,
                                     std::int64_t cacheTokens, std::int64_t budgetBytes,
                                     Quantization quantization)
{
    // Room for activations and the runtime: a tenth of the budget, at most 512 MiB.
    const std::int64_t reserve = std::min<std::int64_t>(budgetBytes / 10, std::int64_t(512) << 20);
    const std::int64_t perBlock = blockWeightBytes(config, bytesPerValue, quantization)
                                  + cacheBytesPerBlock(config, bytesPerValue, cacheTokens);
    const std::int64_t blocks = (budgetBytes - reserve) / perBlock;
    if (blocks < 1)
        return makeError(ErrorCode::InvalidArgument,
                         "a memory budget of " + formatBytes(budgetBytes)
                             + " does not hold one block (" + formatBytes(perBlock)
                             + " with its cache, plus " + formatBytes(reserve) + " reserve)");
    return std::min(blocks, config.numLayers);
}

std::int64_t gpuMemoryBudget(std::int64_t freeBytes)
{
    const std::int64_t reserve = std::max(kGpuReserveBytes, freeBytes / 10);
    return std::max<std::int64_t>(0, freeBytes - reserve);
}

std::int64_t defaultMemoryBudget()
{
#ifdef _WIN32
    MEMORYSTATUSEX status{};
    status.dwLength = sizeof(status);
    if (!GlobalMemoryStatusEx(&status) || status.ullTotalPhys == 0)
        return std::int64_t(4) << 30;
    return std::int64_t(status.ullTotalPhys / 2);
#else
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0)
        return std::int64_t(4) << 30;
    return std::int64_t(pages) * pageSize / 2;
#endif
}

} // namespace corolla
