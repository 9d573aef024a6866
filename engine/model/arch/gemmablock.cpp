#include "model/arch/gemmablock.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/gelu.h>

#include "model/ops.h"

namespace corolla {

Result<std::unique_ptr<Block>> GemmaBlock::load(const ModelConfig &config,
                                                const TensorSource &source, std::int64_t index,
                                                at::ScalarType dtype, Quantization quantization,
                                                const c10::Device &device)
{
    auto block = std::make_unique<GemmaBlock>(config, index);

    const std::int64_t h = config.hiddenSize, ffn = config.intermediateSize;
    GemmaBlock &b = *block;
    std::vector<WeightSlot> slots = b.m_attention.slots(config, &b.m_inputNorm);
    slots.insert(
        slots.end(),
        {
            {&b.m_postAttentionNorm, {{"post_attention_layernorm.weight", {h}}}},
            {&b.m_preMlpNorm, {{"pre_feedforward_layernorm.weight", {h}}}},
            {&b.m_gateUp, {{"mlp.gate_proj.weight", {ffn, h}}, {"mlp.up_proj.weight", {ffn, h}}}},
            {&b.m_down, {{"mlp.down_proj.weight", {h, ffn}}}},
            {&b.m_postMlpNorm, {{"post_feedforward_layernorm.weight", {h}}}},
        });
    if (auto read = WeightReader(source, dtype, quantization, device)
                        .read("model.layers." + std::to_string(index) + ".", slots);
        !read)
        return read.error();
    for (at::Tensor *norm : {&b.m_inputNorm, &b.m_attention.qNorm, &b.m_attention.kNorm,
                             &b.m_postAttentionNorm, &b.m_preMlpNorm, &b.m_postMlpNorm}) {
        if (norm->defined())
            *norm = ops::gemmaNormScale(*norm);
    }
    return std::unique_ptr<Block>(std::move(block));
}

StepPreparation GemmaBlock::stepPreparation(const ModelConfig &config)
{
    std::optional<ops::RotaryEmbedding> local;
    if (config.localRope)
        local.emplace(*config.localRope, config.headDim);
    return [global = ops::RotaryEmbedding(config.rope, config.headDim),
            local](StepContext &ctx, at::ScalarType dtype) {
        global.fill(ctx, dtype);
        if (local)
            std::tie(ctx.localRotaryCos, ctx.localRotarySin) = local->tables(ctx.positions, dtype);
    };
}

GemmaBlock::GemmaBlock(const ModelConfig &config, std::int64_t index)
    : m_intermediate(config.intermediateSize)
    , m_eps(config.normEps)
    , m_attention(config, index, ops::scaledRmsNorm)
{
}

at::Tensor GemmaBlock::forward(const at::Tensor &x, LayerCache &cache, const StepContext &ctx) const
{
    // Attention on the normalised input (Gemma 3 normalises q and k per head too), its output
    // normalised again before the residual.
    const at::Tensor normed =
        ops::scaledRmsNorm(x, m_inputNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("attn_norm", normed);
    const at::Tensor afterAttention =
        x
        + ops::scaledRmsNorm(m_attention.forward(normed, cache, ctx), m_postAttentionNorm, m_eps,
                             ctx.backend); // [b, T, hidden]
    ctx.inspect("attn_residual", afterAttention);

    // MLP: down(gelu_tanh(gate(h)) * up(h)), normalised before and after.
    const at::Tensor normed2 =
        ops::scaledRmsNorm(afterAttention, m_preMlpNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("ffn_norm", normed2);
    const at::Tensor gateUp =
        adaptedLinear(normed2, m_gateUp, {}, ctx, Projection::MlpIn); // [b, T, 2 ffn]
    const at::Tensor activated = at::gelu(gateUp.narrow(-1, 0, m_intermediate), "tanh")
                                 * gateUp.narrow(-1, m_intermediate, m_intermediate); // [b, T, ffn]
    ctx.inspect("ffn_act", activated);
    const at::Tensor down = adaptedLinear(activated, m_down, {}, ctx, Projection::MlpOut);
    const at::Tensor out =
        afterAttention
        + ops::scaledRmsNorm(down, m_postMlpNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("out", out);
    return out;
}

std::int64_t GemmaBlock::weightBytes() const
{
    return m_attention.weightBytes()
           + corolla::weightBytes({m_inputNorm, m_postAttentionNorm, m_preMlpNorm, m_postMlpNorm},
                                  {&m_gateUp, &m_down});
}

} // namespace corolla
