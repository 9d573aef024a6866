#pragma once
// How many blocks fit in a memory budget (DESIGN.md §6): blocks = (budget - reserve) /
// (block weights + KV cache per block), with the KV budget given in tokens.
// Thread: any; pure functions.

#include <cstdint>
#include <string>
#include <vector>

#include "core/compute.h"
#include "core/result.h"
#include "model/modelconfig.h"

namespace corolla {

// The linear projections of one block, [out, in] each, as a block holds them: what
// quantization packs.
struct ProjectionShape {
    std::string name; // the checkpoint tensor (after the block prefix), or the first stacked one
    std::int64_t out = 0, in = 0;
};
std::vector<ProjectionShape> blockProjectionShapes(const ModelConfig &config);

std::int64_t blockParameterCount(const ModelConfig &config);
// Bytes of one block's weights as a loaded block holds them: `bytesPerValue` per value, but
// the projections packed as `quantization` (codes and scales) and Gemma's norms in fp32.
// nf4 absmax take `absmaxBytes` each: 4 by default, what the plan counts since it does not
// look at the checkpoint; a bf16 checkpoint's take 2 (linearweight.h), so a loaded block
// then holds a little less than planned.
std::int64_t blockWeightBytes(const ModelConfig &config, int bytesPerValue,
                              Quantization quantization = Quantization::None, int absmaxBytes = 4);
std::int64_t cacheBytesPerBlock(const ModelConfig &config, int bytesPerValue,
                                std::int64_t cacheTokens);

// Whether the blocks of `config` can be packed as `quantization`: nf4 needs every projection's
// input width to be a multiple of 64; the error names the first that is not.
Result<void> checkQuantizable(const ModelConfig &config, Quantization quantization);

// The number of blocks that fit, at most the model's; an error when not even one does.
Result<std::int64_t> blocksForBudget(const ModelConfig &config, int bytesPerValue,
                                     std::int64_t cacheTokens, std::int64_t budgetBytes,
                                     Quantization quantization = Quantization::None);

// Half of this machine's physical memory: the budget when none is given.
std::int64_t defaultMemoryBudget();

// The budget on a GPU with `freeBytes` free (as NVML reports it): that less a reserve for
// activations, the CUDA runtime's workspaces and fragmentation, a tenth of it but at least
// kGpuReserveBytes; 0 when nothing is left.
inline constexpr std::int64_t kGpuReserveBytes = std::int64_t(1) << 30;
std::int64_t gpuMemoryBudget(std::int64_t freeBytes);

} // namespace corolla
