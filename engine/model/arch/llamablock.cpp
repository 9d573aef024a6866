#include "model/arch/llamablock.h"

#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/ops/silu.h>

#include "model/ops.h"

namespace corolla {

Result<std::unique_ptr<Block>> LlamaBlock::load(const ModelConfig &config,
                                                const TensorSource &source, std::int64_t index,
                                                at::ScalarType dtype, Quantization quantization)
{
    auto block = std::make_unique<LlamaBlock>();
    block->m_numHeads = config.numHeads;
    block->m_numKvHeads = config.numKvHeads;
    block->m_headDim = config.headDim;
    block->m_intermediate = config.intermediateSize;
    block->m_eps = config.normEps;
    block->m_sliding = config.usesSlidingWindow(index);

    const std::int64_t h = config.hiddenSize, d = config.headDim, ffn = config.intermediateSize;
    const std::int64_t qRows = config.numHeads * d, kvRows = config.numKvHeads * d;
    LlamaBlock &b = *block;
    const std::vector<WeightSlot> slots{
        {&b.m_inputNorm, {{"input_layernorm.weight", {h}}}},
        {&b.m_qkv,
         {{"self_attn.q_proj.weight", {qRows, h}},
          {"self_attn.k_proj.weight", {kvRows, h}},
          {"self_attn.v_proj.weight", {kvRows, h}}}},
        {&b.m_qkvBias,
         {{"self_attn.q_proj.bias", {qRows}},
          {"self_attn.k_proj.bias", {kvRows}},
          {"self_attn.v_proj.bias", {kvRows}}},
         config.qkvBias},
        {&b.m_output, {{"self_attn.o_proj.weight", {h, qRows}}}},
        {&b.m_outputBias, {{"self_attn.o_proj.bias", {h}}}, config.outputBias},
        {&b.m_qNorm, {{"self_attn.q_norm.weight", {d}}}, config.qkNorm},
        {&b.m_kNorm, {{"self_attn.k_norm.weight", {d}}}, config.qkNorm},
        {&b.m_postNorm, {{"post_attention_layernorm.weight", {h}}}},
        {&b.m_gateUp, {{"mlp.gate_proj.weight", {ffn, h}}, {"mlp.up_proj.weight", {ffn, h}}}},
        {&b.m_gateUpBias,
         {{"mlp.gate_proj.bias", {ffn}}, {"mlp.up_proj.bias", {ffn}}},
         config.mlpBias},
        {&b.m_down, {{"mlp.down_proj.weight", {h, ffn}}}},
        {&b.m_downBias, {{"mlp.down_proj.bias", {h}}}, config.mlpBias},
    };
    if (auto read = WeightReader(source, dtype, quantization)
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

at::Tensor LlamaBlock::forward(const at::Tensor &x, LayerCache &cache, const StepContext &ctx) const
{
    const std::int64_t batch = x.size(0), steps = x.size(1);
    const std::int64_t qRows = m_numHeads * m_headDim, kvRows = m_numKvHeads * m_headDim;

    // Attention: normalise, project to q, k, v, (Qwen3) normalise q and k per head, rotate
    // q and k by position.
    const at::Tensor normed = ops::rmsNorm(x, m_inputNorm, m_eps); // [b, T, hidden]
    ctx.inspect("attn_norm", normed);
    const at::Tensor qkv = adaptedLinear(normed, m_qkv, m_qkvBias, ctx,
                                         Projection::AttentionIn); // [b, T, qRows + 2 kvRows]
    at::Tensor q = qkv.narrow(-1, 0, qRows)
                       .view({batch, steps, m_numHeads, m_headDim})
                       .transpose(1, 2); // [b, nHeads, T, D]
    at::Tensor k = qkv.narrow(-1, qRows, kvRows)
                       .view({batch, steps, m_numKvHeads, m_headDim})
                       .transpose(1, 2); // [b, nKv, T, D]
    const at::Tensor v = qkv.narrow(-1, qRows + kvRows, kvRows)
                             .view({batch, steps, m_numKvHeads, m_headDim})
                             .transpose(1, 2); // [b, nKv, T, D]
    if (m_qNorm.defined()) {
        q = ops::rmsNorm(q, m_qNorm, m_eps); // [b, nHeads, T, D]
        k = ops::rmsNorm(k, m_kNorm, m_eps); // [b, nKv, T, D]
    }
    q = ops::applyRotary(q, ctx.rotaryCos, ctx.rotarySin);
    k = ops::applyRotary(k, ctx.rotaryCos, ctx.rotarySin);
    ctx.inspect("q", q);
    ctx.inspect("k", k);
    ctx.inspect("v", v);

    // Append this step to the cache and attend over everything visible.
    const auto [keys, values] = KvCache::append(cache, ctx, k, v);         // [b, nKv, S, D]
    const at::Tensor &mask = m_sliding ? ctx.slidingMask : ctx.causalMask; // [b, 1, T, S]
    const at::Tensor attended =
        ops::attention(q, keys, values, mask, 1.0 / std::sqrt(double(m_headDim))); // [b, T, qRows]
    ctx.inspect("attention", attended);
    const at::Tensor afterAttention = x
                                      + adaptedLinear(attended, m_output, m_outputBias, ctx,
                                                      Projection::AttentionOut); // [b, T, hidden]
    ctx.inspect("attn_residual", afterAttention);

    // MLP: down(silu(gate(h)) * up(h)).
    const at::Tensor normed2 = ops::rmsNorm(afterAttention, m_postNorm, m_eps); // [b, T, hidden]
    ctx.inspect("ffn_norm", normed2);
    const at::Tensor gateUp =
        adaptedLinear(normed2, m_gateUp, m_gateUpBias, ctx, Projection::MlpIn); // [b, T, 2 ffn]
    const at::Tensor activated = at::silu(gateUp.narrow(-1, 0, m_intermediate))
                                 * gateUp.narrow(-1, m_intermediate, m_intermediate); // [b, T, ffn]
    ctx.inspect("ffn_act", activated);
    const at::Tensor out =
        afterAttention
        + adaptedLinear(activated, m_down, m_downBias, ctx, Projection::MlpOut); // [b, T, hidden]
    ctx.inspect("out", out);
    return out;
}

std::int64_t LlamaBlock::weightBytes() const
{
    return corolla::weightBytes({m_inputNorm, m_qkvBias, m_outputBias, m_qNorm, m_kNorm, m_postNorm,
                                 m_gateUpBias, m_downBias},
                                {&m_qkv, &m_output, &m_gateUp, &m_down});
}

} // namespace corolla
