#pragma once
// The Gemma block (Gemma 2, and Gemma 3's text model): RMSNorms that scale by 1 + weight, in
// fp32, before and after both attention and MLP; grouped-query attention scaled by
// query_pre_attn_scalar^-1/2, its scores soft-capped (Gemma 2), q and k normalised per head
// (Gemma 3); sliding-window layers with a rope of their own (Gemma 3); a tanh-GELU gated MLP.
// Checkpoint names: model.layers.<i>.{self_attn,mlp,...}, as Llama's plus the extra norms.
// Thread: forward() may run on any compute thread.

#include "model/arch/groupedattention.h"
#include "model/block.h"

namespace corolla {

class GemmaBlock : public Block {
public:
    static Result<std::unique_ptr<Block>> load(const ModelConfig &config,
                                               const TensorSource &source, std::int64_t index,
                                               at::ScalarType dtype, Quantization quantization,
                                               const c10::Device &device);

    // Rotary tables for the step's positions: ctx.rotaryCos/Sin, and for Gemma 3's local
    // layers ctx.localRotaryCos/Sin.
    static StepPreparation stepPreparation(const ModelConfig &config);

    GemmaBlock(const ModelConfig &config, std::int64_t index);

    at::Tensor forward(const at::Tensor &hidden, LayerCache &cache,
                       const StepContext &ctx) const override;
    std::int64_t weightBytes() const override;

private:
    std::int64_t m_intermediate;
    double m_eps;

    // Norm scales are fp32 1 + weight, as Gemma's RMSNorm computes them.
    at::Tensor m_inputNorm;         // [hidden]
    GroupedAttention m_attention;   // q/k norms (Gemma 3) as scales too
    at::Tensor m_postAttentionNorm; // [hidden]
    at::Tensor m_preMlpNorm;        // [hidden]
    LinearWeight m_gateUp;          // [2 * intermediate, hidden]: gate, up stacked
    LinearWeight m_down;            // [hidden, intermediate]
    at::Tensor m_postMlpNorm;       // [hidden]
};

} // namespace corolla
