#pragma once
// The Falcon block in each of its layouts (FalconLayout in modelconfig.h): LayerNorms with
// biases, one fused QKV projection split by the layout, rotary or ALiBi attention (ALiBi added
// once to the scaled scores, as the original model and transformers' sdpa path do), an exact
// GELU MLP, attention and MLP in parallel or in sequence. Checkpoint names:
// transformer.h.<i>.{ln_attn,ln_mlp,input_layernorm,post_attention_layernorm,
// self_attention.query_key_value,self_attention.dense,mlp.dense_h_to_4h,mlp.dense_4h_to_h}.
// Thread: forward() may run on any compute thread.

#include "model/block.h"

namespace corolla {

class FalconBlock : public Block {
public:
    static Result<std::unique_ptr<Block>> load(const ModelConfig &config,
                                               const TensorSource &source, std::int64_t index,
                                               at::ScalarType dtype, Quantization quantization,
                                               const c10::Device &device);

    explicit FalconBlock(const ModelConfig &config);

    // Rotary tables for the rotary layouts; nothing for ALiBi.
    static StepPreparation stepPreparation(const ModelConfig &config);
    // query_key_value (rows in the checkpoint's order), dense, dense_h_to_4h, dense_4h_to_h.
    static std::vector<LoraTarget> loraTargets(const ModelConfig &config);

    at::Tensor forward(const at::Tensor &hidden, LayerCache &cache,
                       const StepContext &ctx) const override;
    std::int64_t weightBytes() const override;

private:
    FalconLayout m_layout;
    std::int64_t m_numHeads, m_numKvHeads, m_headDim;
    double m_eps;
    at::Tensor m_slopes; // ALiBi: [1, nHeads, 1, 1] fp32

    at::Tensor m_attnNorm, m_attnNormBias; // ln_attn or input_layernorm, [hidden]
    at::Tensor m_mlpNorm, m_mlpNormBias;   // ln_mlp, or post_attention_layernorm in sequence
    LinearWeight m_qkv;                    // [(nHeads + 2 nKvHeads) * headDim, hidden]
    at::Tensor m_qkvBias;
    LinearWeight m_dense; // [hidden, hidden]
    at::Tensor m_denseBias;
    LinearWeight m_up; // [ffn, hidden]
    at::Tensor m_upBias;
    LinearWeight m_down; // [hidden, ffn]
    at::Tensor m_downBias;
};

} // namespace corolla
