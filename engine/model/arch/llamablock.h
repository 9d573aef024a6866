#pragma once
// The Llama block (also Mistral, Qwen2 and Qwen3): pre-RMSNorm, rotary grouped-query
// attention (Qwen3: q and k RMS-normalised per head before rotary), SwiGLU MLP. Checkpoint
// names: model.layers.<i>.{self_attn,mlp,...}.
// Thread: forward() may run on any compute thread.

#include "model/arch/groupedattention.h"
#include "model/block.h"

namespace corolla {

class LlamaBlock : public Block {
public:
    static Result<std::unique_ptr<Block>> load(const ModelConfig &config,
                                               const TensorSource &source, std::int64_t index,
                                               at::ScalarType dtype, Quantization quantization,
                                               const c10::Device &device);

    // Rotary tables for the step's positions (ctx.rotaryCos, ctx.rotarySin).
    static StepPreparation stepPreparation(const ModelConfig &config);
    // q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.
    static std::vector<LoraTarget> loraTargets(const ModelConfig &config);

    LlamaBlock(const ModelConfig &config, std::int64_t index);

    at::Tensor forward(const at::Tensor &hidden, LayerCache &cache,
                       const StepContext &ctx) const override;
    std::int64_t weightBytes() const override;

private:
    std::int64_t m_intermediate;
    double m_eps;

    at::Tensor m_inputNorm; // [hidden]
    GroupedAttention m_attention;
    at::Tensor m_postNorm;   // [hidden]
    LinearWeight m_gateUp;   // [2 * intermediate, hidden]: gate, up stacked
    at::Tensor m_gateUpBias; // [2 * intermediate] or undefined
    LinearWeight m_down;     // [hidden, intermediate]
    at::Tensor m_downBias;   // [hidden] or undefined
};

} // namespace corolla
