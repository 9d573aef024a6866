#include "model/arch/bloomblock.h"

#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/tensor.h>

#include "model/ops.h"
#include "model/placement.h"

namespace corolla {

std::vector<double> alibiSlopes(std::int64_t heads)
{
    const std::int64_t closestPower = std::int64_t(1)
                                      << std::int64_t(std::floor(std::log2(double(heads))));
    auto geometric = [](std::int64_t n, std::int64_t first, std::int64_t step, std::int64_t count) {
        const double base = std::pow(2.0, -std::pow(2.0, -(std::log2(double(n)) - 3.0)));
        std::vector<double> slopes;
        for (std::int64_t i = 0; i < count; ++i)
            slopes.push_back(std::pow(base, double(first + i * step)));
        return slopes;
    };
    std::vector<double> slopes = geometric(closestPower, 1, 1, closestPower);
    if (closestPower != heads) {
        const std::int64_t extra = std::min(closestPower, heads - closestPower);
        for (double slope : geometric(2 * closestPower, 1, 2, extra))
            slopes.push_back(slope);
    }
    return slopes;
}

Result<std::unique_ptr<Block>> BloomBlock::load(const ModelConfig &config,
                                                const TensorSource &source, std::int64_t index,
                                                at::ScalarType dtype, Quantization quantization,
                                                const c10::Device &device)
{
    auto block = std::make_unique<BloomBlock>();
    block->m_numHeads = config.numHeads;
    block->m_headDim = config.headDim;
    block->m_eps = config.normEps;
    block->m_residualFromNormedInput = config.residualFromNormedInput;
    block->m_slopes = toDevice(at::tensor(alibiSlopes(config.numHeads), at::kDouble)
                                   .to(at::kFloat)
                                   .view({1, config.numHeads, 1, 1}),
                               device);

    const WeightReader reader(source, dtype, quantization, device);
    const std::string local = "h." + std::to_string(index) + ".";
    const std::string prefix = reader.pick({local + "input_layernorm.weight",
                                            "transformer." + local + "input_layernorm.weight"})
                                           .rfind("transformer.", 0)
                                       == 0
                                   ? "transformer." + local
                                   : local;
    const std::int64_t h = config.hiddenSize;
    BloomBlock &b = *block;
    const std::vector<WeightSlot> slots{
        {&b.m_inputNorm, {{"input_layernorm.weight", {h}}}},
        {&b.m_inputNormBias, {{"input_layernorm.bias", {h}}}},
        {&b.m_qkv, {{"self_attention.query_key_value.weight", {3 * h, h}}}},
        {&b.m_qkvBias, {{"self_attention.query_key_value.bias", {3 * h}}}},
        {&b.m_dense, {{"self_attention.dense.weight", {h, h}}}},
        {&b.m_denseBias, {{"self_attention.dense.bias", {h}}}},
        {&b.m_postNorm, {{"post_attention_layernorm.weight", {h}}}},
        {&b.m_postNormBias, {{"post_attention_layernorm.bias", {h}}}},
        {&b.m_up, {{"mlp.dense_h_to_4h.weight", {4 * h, h}}}},
        {&b.m_upBias, {{"mlp.dense_h_to_4h.bias", {4 * h}}}},
        {&b.m_down, {{"mlp.dense_4h_to_h.weight", {h, 4 * h}}}},
        {&b.m_downBias, {{"mlp.dense_4h_to_h.bias", {h}}}},
    };
    if (auto read = reader.read(prefix, slots); !read)
        return read.error();
    return std::unique_ptr<Block>(std::move(block));
}

std::vector<LoraTarget> BloomBlock::loraTargets(const ModelConfig &config)
{
    // The fused projection keeps the checkpoint's per-head (q, k, v) row order, so an
    // adapter's rows apply as they are.
    const std::int64_t h = config.hiddenSize;
    return {
        {"query_key_value", Projection::AttentionIn, 0, 3 * h, h},
        {"dense", Projection::AttentionOut, 0, h, h},
        {"dense_h_to_4h", Projection::MlpIn, 0, 4 * h, h},
        {"dense_4h_to_h", Projection::MlpOut, 0, h, 4 * h},
    };
}

at::Tensor BloomBlock::forward(const at::Tensor &x, LayerCache &cache, const StepContext &ctx) const
{
    const std::int64_t batch = x.size(0), steps = x.size(1), hidden = x.size(2);

    // Attention: normalise (LayerNorm with bias); some checkpoints (apply_residual_connection_
    // post_layernorm) add the normed input instead of the input after each half.
    const at::Tensor normed =
        at::layer_norm(x, {hidden}, m_inputNorm, m_inputNormBias, m_eps); // [b, T, hidden]
    ctx.inspect("attn_norm", normed);
    const at::Tensor &residual = m_residualFromNormedInput ? normed : x;

    // One fused projection, laid out per head as (q, k, v), each headDim wide.
    const at::Tensor qkv = adaptedLinear(normed, m_qkv, m_qkvBias, ctx, Projection::AttentionIn)
                               .view({batch, steps, m_numHeads, 3, m_headDim}); // [b, T, nH, 3, D]
    const at::Tensor q = qkv.select(3, 0).transpose(1, 2);                      // [b, nH, T, D]
    const at::Tensor k = qkv.select(3, 1).transpose(1, 2);                      // [b, nH, T, D]
    const at::Tensor v = qkv.select(3, 2).transpose(1, 2);                      // [b, nH, T, D]
    ctx.inspect("q", q);
    ctx.inspect("k", k);
    ctx.inspect("v", v);

    // Append this step to the cache and attend over everything visible, positions given by
    // ALiBi: each head adds slope * key position; the query's own offset cancels in softmax.
    const auto [keys, values] = KvCache::append(cache, ctx, k, v);            // [b, nH, S, D]
    const at::Tensor alibi = m_slopes * keyPositions(ctx, m_slopes.device()); // [1, nH, 1, S]
    const at::Tensor attended =
        ops::attention(q, keys, values, ctx.causalMask, 1.0 / std::sqrt(double(m_headDim)), alibi,
                       0.0, ctx.backend); // [b, T, hidden]
    ctx.inspect("attention", attended);
    const at::Tensor afterAttention =
        adaptedLinear(attended, m_dense, m_denseBias, ctx, Projection::AttentionOut)
        + residual; // [b, T, hidden]
    ctx.inspect("attn_residual", afterAttention);

    // MLP: down(gelu_tanh(up(h))), after a second LayerNorm.
    const at::Tensor normed2 = at::layer_norm(afterAttention, {hidden}, m_postNorm, m_postNormBias,
                                              m_eps); // [b, T, hidden]
    ctx.inspect("ffn_norm", normed2);
    const at::Tensor &residual2 = m_residualFromNormedInput ? normed2 : afterAttention;
    const at::Tensor up = at::gelu(adaptedLinear(normed2, m_up, m_upBias, ctx, Projection::MlpIn),
                                   "tanh"); // [b, T, 4 hidden]
    ctx.inspect("ffn_act", up);
    const at::Tensor out = adaptedLinear(up, m_down, m_downBias, ctx, Projection::MlpOut)
                           + residual2; // [b, T, hidden]
    ctx.inspect("out", out);
    return out;
}

std::int64_t BloomBlock::weightBytes() const
{
    return corolla::weightBytes({m_inputNorm, m_inputNormBias, m_qkvBias, m_denseBias, m_postNorm,
                                 m_postNormBias, m_upBias, m_downBias},
                                {&m_qkv, &m_dense, &m_up, &m_down});
}

} // namespace corolla
