#include "model/arch/falconblock.h"

#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/tensor.h>

#include "model/arch/bloomblock.h"
#include "model/arch/llamablock.h"
#include "model/ops.h"
#include "model/placement.h"

namespace corolla {

FalconBlock::FalconBlock(const ModelConfig &config)
    : m_layout(config.falcon)
    , m_numHeads(config.numHeads)
    , m_numKvHeads(config.numKvHeads)
    , m_headDim(config.headDim)
    , m_eps(config.normEps)
{
    if (m_layout.alibi)
        m_slopes = at::tensor(alibiSlopes(config.numHeads), at::kDouble)
                       .to(at::kFloat)
                       .view({1, config.numHeads, 1, 1});
}

Result<std::unique_ptr<Block>> FalconBlock::load(const ModelConfig &config,
                                                 const TensorSource &source, std::int64_t index,
                                                 at::ScalarType dtype, Quantization quantization,
                                                 const c10::Device &device)
{
    auto block = std::make_unique<FalconBlock>(config);
    FalconBlock &b = *block;
    const FalconLayout &layout = config.falcon;
    const std::int64_t h = config.hiddenSize, ffn = config.intermediateSize;
    const std::int64_t qkvRows = (config.numHeads + 2 * config.numKvHeads) * config.headDim;
    const bool twoNorms = layout.newDecoder && layout.twoNorms;
    const std::string attnNorm = twoNorms ? "ln_attn" : "input_layernorm";
    const std::string mlpNorm = twoNorms ? "ln_mlp" : "post_attention_layernorm";
    const bool hasMlpNorm = twoNorms || !layout.parallel;
    const bool bias = config.qkvBias;
    const std::vector<WeightSlot> slots{
        {&b.m_attnNorm, {{attnNorm + ".weight", {h}}}},
        {&b.m_attnNormBias, {{attnNorm + ".bias", {h}}}},
        {&b.m_mlpNorm, {{mlpNorm + ".weight", {h}}}, hasMlpNorm},
        {&b.m_mlpNormBias, {{mlpNorm + ".bias", {h}}}, hasMlpNorm},
        {&b.m_qkv, {{"self_attention.query_key_value.weight", {qkvRows, h}}}},
        {&b.m_qkvBias, {{"self_attention.query_key_value.bias", {qkvRows}}}, bias},
        {&b.m_dense, {{"self_attention.dense.weight", {h, h}}}},
        {&b.m_denseBias, {{"self_attention.dense.bias", {h}}}, bias},
        {&b.m_up, {{"mlp.dense_h_to_4h.weight", {ffn, h}}}},
        {&b.m_upBias, {{"mlp.dense_h_to_4h.bias", {ffn}}}, bias},
        {&b.m_down, {{"mlp.dense_4h_to_h.weight", {h, ffn}}}},
        {&b.m_downBias, {{"mlp.dense_4h_to_h.bias", {h}}}, bias},
    };
    if (auto read = WeightReader(source, dtype, quantization, device)
                        .read("transformer.h." + std::to_string(index) + ".", slots);
        !read)
        return read.error();
    if (b.m_slopes.defined())
        b.m_slopes = toDevice(b.m_slopes, device);
    return std::unique_ptr<Block>(std::move(block));
}

StepPreparation FalconBlock::stepPreparation(const ModelConfig &config)
{
    return config.falcon.alibi ? StepPreparation() : LlamaBlock::stepPreparation(config);
}

std::vector<LoraTarget> FalconBlock::loraTargets(const ModelConfig &config)
{
    const std::int64_t h = config.hiddenSize, ffn = config.intermediateSize;
    const std::int64_t qkvRows = (config.numHeads + 2 * config.numKvHeads) * config.headDim;
    return {
        {"query_key_value", Projection::AttentionIn, 0, qkvRows, h},
        {"dense", Projection::AttentionOut, 0, h, h},
        {"dense_h_to_4h", Projection::MlpIn, 0, ffn, h},
        {"dense_4h_to_h", Projection::MlpOut, 0, h, ffn},
    };
}

at::Tensor FalconBlock::forward(const at::Tensor &x, LayerCache &cache,
                                const StepContext &ctx) const
{
    const std::int64_t batch = x.size(0), steps = x.size(1), hidden = x.size(2);
    const std::int64_t d = m_headDim;

    // Attention: normalise (LayerNorm with bias), one fused projection split by the layout.
    const at::Tensor normed =
        at::layer_norm(x, {hidden}, m_attnNorm, m_attnNormBias, m_eps); // [b, T, hidden]
    ctx.inspect("attn_norm", normed);
    const at::Tensor qkv = adaptedLinear(normed, m_qkv, m_qkvBias, ctx, Projection::AttentionIn);
    at::Tensor q, k, v; // [b, T, heads, D]
    if (m_layout.newDecoder) {
        // Per KV head: its query heads, then its key, then its value.
        const std::int64_t group = m_numHeads / m_numKvHeads;
        const at::Tensor grouped = qkv.view({batch, steps, m_numKvHeads, group + 2, d});
        q = grouped.narrow(3, 0, group).reshape({batch, steps, m_numHeads, d});
        k = grouped.select(3, group);
        v = grouped.select(3, group + 1);
    } else if (m_layout.multiQuery) {
        // Every query head, then the one key and the one value.
        const at::Tensor rows = qkv.view({batch, steps, m_numHeads + 2, d});
        q = rows.narrow(2, 0, m_numHeads);
        k = rows.narrow(2, m_numHeads, 1);
        v = rows.narrow(2, m_numHeads + 1, 1);
    } else {
        // Per head: q, k, v.
        const at::Tensor heads = qkv.view({batch, steps, m_numHeads, 3, d});
        q = heads.select(3, 0);
        k = heads.select(3, 1);
        v = heads.select(3, 2);
    }
    q = q.transpose(1, 2); // [b, nHeads, T, D]
    k = k.transpose(1, 2); // [b, nKv, T, D]
    v = v.transpose(1, 2); // [b, nKv, T, D]
    if (!m_layout.alibi) {
        q = ops::applyRotary(q, ctx.rotaryCos, ctx.rotarySin, ctx.backend);
        k = ops::applyRotary(k, ctx.rotaryCos, ctx.rotarySin, ctx.backend);
    }
    ctx.inspect("q", q);
    ctx.inspect("k", k);
    ctx.inspect("v", v);

    // Append this step to the cache and attend; ALiBi adds slope * key position once.
    const auto [keys, values] = KvCache::append(cache, ctx, k, v); // [b, nKv, S, D]
    const at::Tensor alibi = m_layout.alibi ? m_slopes * keyPositions(ctx, m_slopes.device())
                                            : at::Tensor(); // [1, nHeads, 1, S]
    const at::Tensor attended =
        ops::attention(q, keys, values, ctx.causalMask, 1.0 / std::sqrt(double(d)), alibi, 0.0,
                       ctx.backend); // [b, T, h]
    ctx.inspect("attention", attended);
    const at::Tensor attentionOut =
        adaptedLinear(attended, m_dense, m_denseBias, ctx, Projection::AttentionOut);

    // MLP: down(gelu(up(h))) on the attention's input (in parallel) or on the residual after
    // attention (in sequence).
    at::Tensor residual = x, mlpInput;
    if (m_layout.parallel) {
        mlpInput = m_mlpNorm.defined()
                       ? at::layer_norm(x, {hidden}, m_mlpNorm, m_mlpNormBias, m_eps)
                       : normed;
        if (ctx.hook)
            ctx.inspect("attn_residual", x + attentionOut);
    } else {
        residual = x + attentionOut;
        ctx.inspect("attn_residual", residual);
        mlpInput = at::layer_norm(residual, {hidden}, m_mlpNorm, m_mlpNormBias, m_eps);
    }
    ctx.inspect("ffn_norm", mlpInput);
    const at::Tensor activated =
        at::gelu(adaptedLinear(mlpInput, m_up, m_upBias, ctx, Projection::MlpIn)); // [b, T, ffn]
    ctx.inspect("ffn_act", activated);
    at::Tensor mlpOut = adaptedLinear(activated, m_down, m_downBias, ctx, Projection::MlpOut);
    if (m_layout.parallel)
        mlpOut = mlpOut + attentionOut;
    const at::Tensor out = mlpOut + residual; // [b, T, hidden]
    ctx.inspect("out", out);
    return out;
}

std::int64_t FalconBlock::weightBytes() const
{
    return corolla::weightBytes({m_attnNorm, m_attnNormBias, m_mlpNorm, m_mlpNormBias, m_qkvBias,
                                 m_denseBias, m_upBias, m_downBias},
                                {&m_qkv, &m_dense, &m_up, &m_down});
}

} // namespace corolla
