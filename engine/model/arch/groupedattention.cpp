#include "model/arch/groupedattention.h"

#include <cmath>

#include "model/ops.h"

namespace corolla {

GroupedAttention::GroupedAttention(const ModelConfig &config, std::int64_t layer, Norm norm)
    : m_numHeads(config.numHeads)
    , m_numKvHeads(config.numKvHeads)
    , m_headDim(config.headDim)
    , m_eps(config.normEps)
    , m_scale(config.attentionScale > 0 ? config.attentionScale
                                        : 1.0 / std::sqrt(double(config.headDim)))
    , m_softcap(config.attentionSoftcap)
    , m_sliding(config.usesSlidingWindow(layer))
    , m_norm(norm)
{
}

std::vector<WeightSlot> GroupedAttention::slots(const ModelConfig &config, at::Tensor *inputNorm)
{
    const std::int64_t h = config.hiddenSize, d = config.headDim;
    const std::int64_t qRows = config.numHeads * d, kvRows = config.numKvHeads * d;
    return {
        {inputNorm, {{"input_layernorm.weight", {h}}}},
        {&m_qkv,
         {{"self_attn.q_proj.weight", {qRows, h}},
          {"self_attn.k_proj.weight", {kvRows, h}},
          {"self_attn.v_proj.weight", {kvRows, h}}}},
        {&m_qkvBias,
         {{"self_attn.q_proj.bias", {qRows}},
          {"self_attn.k_proj.bias", {kvRows}},
          {"self_attn.v_proj.bias", {kvRows}}},
         config.qkvBias},
        {&m_output, {{"self_attn.o_proj.weight", {h, qRows}}}},
        {&m_outputBias, {{"self_attn.o_proj.bias", {h}}}, config.outputBias},
        {&qNorm, {{"self_attn.q_norm.weight", {d}}}, config.qkNorm},
        {&kNorm, {{"self_attn.k_norm.weight", {d}}}, config.qkNorm},
    };
}

at::Tensor GroupedAttention::forward(const at::Tensor &normed, LayerCache &cache,
                                     const StepContext &ctx) const
{
    const std::int64_t batch = normed.size(0), steps = normed.size(1);
    const std::int64_t qRows = m_numHeads * m_headDim, kvRows = m_numKvHeads * m_headDim;

    // Project to q, k, v; normalise q and k per head where the family does; rotate them by
    // position with the layer's rope.
    const at::Tensor qkv = adaptedLinear(normed, m_qkv, m_qkvBias, ctx,
                                         Projection::AttentionIn); // [b, T, qRows + 2 kvRows]
    const auto heads = [&](std::int64_t offset, std::int64_t rows, std::int64_t count) {
        return qkv.narrow(-1, offset, rows)
            .view({batch, steps, count, m_headDim})
            .transpose(1, 2); // [b, count, T, D]
    };
    at::Tensor q = heads(0, qRows, m_numHeads);
    at::Tensor k = heads(qRows, kvRows, m_numKvHeads);
    const at::Tensor v = heads(qRows + kvRows, kvRows, m_numKvHeads);
    if (qNorm.defined()) {
        q = m_norm(q, qNorm, m_eps, ctx.backend);
        k = m_norm(k, kNorm, m_eps, ctx.backend);
    }
    const bool local = m_sliding && ctx.localRotaryCos.defined();
    const at::Tensor &cos = local ? ctx.localRotaryCos : ctx.rotaryCos;
    const at::Tensor &sin = local ? ctx.localRotarySin : ctx.rotarySin;
    q = ops::applyRotary(q, cos, sin, ctx.backend);
    k = ops::applyRotary(k, cos, sin, ctx.backend);
    ctx.inspect("q", q);
    ctx.inspect("k", k);
    ctx.inspect("v", v);

    // Append this step to the cache and attend over everything visible.
    const auto [keys, values] = KvCache::append(cache, ctx, k, v);         // [b, nKv, S, D]
    const at::Tensor &mask = m_sliding ? ctx.slidingMask : ctx.causalMask; // [b, 1, T, S]
    const at::Tensor attended =
        ops::attention(q, keys, values, mask, m_scale, {}, m_softcap, ctx.backend); // [b, T, qRows]
    ctx.inspect("attention", attended);
    return adaptedLinear(attended, m_output, m_outputBias, ctx, Projection::AttentionOut);
}

std::int64_t GroupedAttention::weightBytes() const
{
    return corolla::weightBytes({m_qkvBias, m_outputBias, qNorm, kNorm}, {&m_qkv, &m_output});
}

} // namespace corolla
