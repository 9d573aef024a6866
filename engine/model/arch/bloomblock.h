#pragma once
// The BLOOM block: pre-LayerNorm, multi-head attention with ALiBi position biases and a fused
// per-head QKV projection, tanh-GELU MLP. Checkpoint names: [transformer.]h.<i>.*.
// Thread: forward() may run on any compute thread.

#include "model/block.h"

namespace corolla {

class BloomBlock : public Block {
public:
    static Result<std::unique_ptr<Block>> load(const ModelConfig &config,
                                               const TensorSource &source, std::int64_t index,
                                               at::ScalarType dtype, Quantization quantization,
                                               const c10::Device &device);
    // query_key_value, dense, dense_h_to_4h, dense_4h_to_h.
    static std::vector<LoraTarget> loraTargets(const ModelConfig &config);

    at::Tensor forward(const at::Tensor &hidden, LayerCache &cache,
                       const StepContext &ctx) const override;
    std::int64_t weightBytes() const override;

private:
    std::int64_t m_numHeads = 0, m_headDim = 0;
    double m_eps = 0;
    bool m_residualFromNormedInput = false;
    at::Tensor m_slopes; // [1, nHeads, 1, 1] fp32 ALiBi slopes

    at::Tensor m_inputNorm, m_inputNormBias; // [hidden]
    LinearWeight m_qkv;                      // [3 * hidden, hidden], rows ordered (head, q|k|v, d)
    at::Tensor m_qkvBias;
    LinearWeight m_dense; // [hidden, hidden]
    at::Tensor m_denseBias;
    at::Tensor m_postNorm, m_postNormBias; // [hidden]
    LinearWeight m_up;                     // [4 * hidden, hidden]
    at::Tensor m_upBias;
    LinearWeight m_down; // [hidden, 4 * hidden]
    at::Tensor m_downBias;
};

// ALiBi slopes for `heads` heads: a geometric sequence from 2^(-8/n) for the nearest power of
// two n, interleaved with the sequence of 2n when `heads` is not a power of two.
std::vector<double> alibiSlopes(std::int64_t heads);

} // namespace corolla
