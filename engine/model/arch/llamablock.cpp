#include "model/arch/llamablock.h"

#include <ATen/TensorOperators.h>

#include "model/ops.h"

namespace corolla {

Result<std::unique_ptr<Block>> LlamaBlock::load(const ModelConfig &config,
                                                const TensorSource &source, std::int64_t index,
                                                at::ScalarType dtype, Quantization quantization,
                                                const c10::Device &device)
{
    auto block = std::make_unique<LlamaBlock>(config, index);

    const std::int64_t h = config.hiddenSize, ffn = config.intermediateSize;
    LlamaBlock &b = *block;
    std::vector<WeightSlot> slots = b.m_attention.slots(config, &b.m_inputNorm);
    slots.insert(
        slots.end(),
        {
            {&b.m_postNorm, {{"post_attention_layernorm.weight", {h}}}},
            {&b.m_gateUp, {{"mlp.gate_proj.weight", {ffn, h}}, {"mlp.up_proj.weight", {ffn, h}}}},
            {&b.m_gateUpBias,
             {{"mlp.gate_proj.bias", {ffn}}, {"mlp.up_proj.bias", {ffn}}},
             config.mlpBias},
            {&b.m_down, {{"mlp.down_proj.weight", {h, ffn}}}},
            {&b.m_downBias, {{"mlp.down_proj.bias", {h}}}, config.mlpBias},
        });
    if (auto read = WeightReader(source, dtype, quantization, device)
                        .read("model.layers." + std::to_string(index) + ".", slots);
        !read)
        return read.error();
    return std::unique_ptr<Block>(std::move(block));
}

StepPreparation LlamaBlock::stepPreparation(const ModelConfig &config)
{
    return [rotary = ops::RotaryEmbedding(config.rope, config.headDim)](
               StepContext &ctx, at::ScalarType dtype) { rotary.fill(ctx, dtype); };
}

std::vector<LoraTarget> LlamaBlock::loraTargets(const ModelConfig &config)
{
    const std::int64_t h = config.hiddenSize, ffn = config.intermediateSize;
    const std::int64_t qRows = config.numHeads * config.headDim;
    const std::int64_t kvRows = config.numKvHeads * config.headDim;
    return {
        {"q_proj", Projection::AttentionIn, 0, qRows, h},
        {"k_proj", Projection::AttentionIn, qRows, kvRows, h},
        {"v_proj", Projection::AttentionIn, qRows + kvRows, kvRows, h},
        {"o_proj", Projection::AttentionOut, 0, h, qRows},
        {"gate_proj", Projection::MlpIn, 0, ffn, h},
        {"up_proj", Projection::MlpIn, ffn, ffn, h},
        {"down_proj", Projection::MlpOut, 0, h, ffn},
    };
}

LlamaBlock::LlamaBlock(const ModelConfig &config, std::int64_t index)
    : m_intermediate(config.intermediateSize)
    , m_eps(config.normEps)
    , m_attention(config, index, ops::rmsNorm)
{
}

at::Tensor LlamaBlock::forward(const at::Tensor &x, LayerCache &cache, const StepContext &ctx) const
{
    // Attention on the normalised input (Qwen3 normalises q and k per head too).
    const at::Tensor normed = ops::rmsNorm(x, m_inputNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("attn_norm", normed);
    const at::Tensor afterAttention = x + m_attention.forward(normed, cache, ctx); // [b, T, hidden]
    ctx.inspect("attn_residual", afterAttention);

    // MLP: down(silu(gate(h)) * up(h)).
    const at::Tensor normed2 =
        ops::rmsNorm(afterAttention, m_postNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("ffn_norm", normed2);
    const at::Tensor gateUp =
        adaptedLinear(normed2, m_gateUp, m_gateUpBias, ctx, Projection::MlpIn); // [b, T, 2 ffn]
    const at::Tensor activated = ops::siluGate(gateUp, m_intermediate, ctx.backend); // [b, T, ffn]
    ctx.inspect("ffn_act", activated);
    const at::Tensor out =
        afterAttention
        + adaptedLinear(activated, m_down, m_downBias, ctx, Projection::MlpOut); // [b, T, hidden]
    ctx.inspect("out", out);
    return out;
}

std::int64_t LlamaBlock::weightBytes() const
{
    return m_attention.weightBytes()
           + corolla::weightBytes({m_inputNorm, m_postNorm, m_gateUpBias, m_downBias},
                                  {&m_gateUp, &m_down});
}

} // namespace corolla
