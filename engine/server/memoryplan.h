#pragma once
// How many blocks fit in a memory budget (DESIGN.md §6): blocks = (budget - reserve) /
// (block weights + KV cache per block), with the KV budget given in tokens.
// Thread: any; pure functions.

#include <cstdint>
#include <string>

#include "core/result.h"
#include "model/modelconfig.h"

namespace corolla {

std::int64_t blockParameterCount(const ModelConfig &config);
std::int64_t blockWeightBytes(const ModelConfig &config, int bytesPerValue);
std::int64_t cacheBytesPerBlock(const ModelConfig &config, int bytesPerValue,
                                std::int64_t cacheTokens);

// The number of blocks that fit, at most the model's; an error when not even one does.
Result<std::int64_t> blocksForBudget(const ModelConfig &config, int bytesPerValue,
                                     std::int64_t cacheTokens, std::int64_t budgetBytes);

// Half of this machine's physical memory: the budget when none is given.
std::int64_t defaultMemoryBudget();

} // namespace corolla
