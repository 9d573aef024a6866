#pragma once
// A plainly written reference of the model families, in double precision, straight from the
// papers and the Hugging Face conventions: explicit RMSNorm (Gemma's scaled by 1 + weight) and
// LayerNorm, rotate-half rotary embeddings with llama3 scaling (and Gemma 3's local rope),
// ALiBi slopes, per-head causal attention with GQA, sliding windows and soft-capping, SwiGLU
// and tanh-GELU. It shares no code with the engine's blocks.

#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include "model/modelconfig.h"

namespace corolla::reference {

using Weights = std::map<std::string, at::Tensor>;

// Blocks [begin, end) on one sequence: x [T, hidden] -> [T, hidden], all in double.
at::Tensor blocks(const ModelConfig &config, const Weights &weights, const at::Tensor &x,
                  std::int64_t begin, std::int64_t end);

// blocks() with deep prompts: before block begin + i, prompts[i] ([P, hidden]) is added to the
// first P positions (of those there are).
at::Tensor blocksWithPrompts(const ModelConfig &config, const Weights &weights, const at::Tensor &x,
                             std::int64_t begin, std::int64_t end, const at::Tensor &prompts);

// The input hidden states of token ids: [T, hidden], in double.
at::Tensor embed(const ModelConfig &config, const Weights &weights,
                 const std::vector<std::int64_t> &ids);

// The final norm and LM head: hidden [T, hidden] -> logits [T, vocab], in double.
at::Tensor head(const ModelConfig &config, const Weights &weights, const at::Tensor &h);

// Logits of every position for token ids: [T, vocab], in double.
at::Tensor logits(const ModelConfig &config, const Weights &weights,
                  const std::vector<std::int64_t> &ids);

std::vector<double> alibiSlopes(std::int64_t heads);

} // namespace corolla::reference
