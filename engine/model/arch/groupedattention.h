#pragma once
// The attention half that the Llama and Gemma blocks share: rotary grouped-query attention
// over the KV cache, with the weights as their checkpoints name them (self_attn.{q,k,v,o}_proj
// with optional biases, Qwen3's and Gemma 3's per-head q/k norms), the family's norm, scale
// and soft-cap, a sliding window on some layers and, on those, the step's local rope when it
// has one (Gemma 3).
// Thread: forward() is const and may run on any compute thread.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/block.h"

namespace corolla {

class GroupedAttention {
public:
    // x -> normalised x, with a weight (Llama) or a scale (Gemma) and an epsilon.
    using Norm = at::Tensor (*)(const at::Tensor &x, const at::Tensor &weight, double eps,
                                ComputeBackend backend);

    // The attention of block `layer` of `config`, its q/k norms computed with `norm`.
    GroupedAttention(const ModelConfig &config, std::int64_t layer, Norm norm);

    // Where the block's input norm (input_layernorm) and each weight of the attention come
    // from, for WeightReader::read with the block's prefix.
    std::vector<WeightSlot> slots(const ModelConfig &config, at::Tensor *inputNorm);

    // normed [b, T, hidden] -> the output projection [b, T, hidden], before the residual.
    // Appends the step's keys and values to `cache`; reports "q", "k", "v" and "attention".
    at::Tensor forward(const at::Tensor &normed, LayerCache &cache, const StepContext &ctx) const;

    std::int64_t weightBytes() const;

    at::Tensor qNorm, kNorm; // [headDim] with config.qkNorm, else undefined

private:
    std::int64_t m_numHeads, m_numKvHeads, m_headDim;
    double m_eps, m_scale, m_softcap;
    bool m_sliding;
    Norm m_norm;

    LinearWeight m_qkv;      // [(nHeads + 2 nKvHeads) * headDim, hidden]: q, k, v stacked
    at::Tensor m_qkvBias;    // [(nHeads + 2 nKvHeads) * headDim] or undefined
    LinearWeight m_output;   // [hidden, nHeads * headDim]
    at::Tensor m_outputBias; // [hidden] or undefined
};

} // namespace corolla
