#include "model/arch/llamablock.h"

#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/silu.h>

#include "model/ops.h"
#include "model/weightmemory.h"

namespace corolla {

namespace {

// Concatenates the bias vectors of stacked projections; undefined when none has one.
Result<at::Tensor> stackedBias(const WeightReader &reader, const std::string &prefix,
                               std::initializer_list<std::pair<const char *, std::int64_t>> parts,
                               bool expected)
{
    if (!expected)
        return at::Tensor();
    std::vector<at::Tensor> biases;
    for (const auto &[name, rows] : parts) {
        auto bias = reader.require(prefix + name + ".bias", {rows});
        if (!bias)
            return bias.error();
        biases.push_back(*bias);
    }
    return at::cat(biases);
}

} // namespace

Result<std::unique_ptr<Block>> LlamaBlock::load(const ModelConfig &config,
                                                const TensorSource &source, std::int64_t index,
                                                at::ScalarType dtype)
{
    auto block = std::make_unique<LlamaBlock>();
    block->m_numHeads = config.numHeads;
    block->m_numKvHeads = config.numKvHeads;
    block->m_headDim = config.headDim;
    block->m_intermediate = config.intermediateSize;
    block->m_eps = config.normEps;
    block->m_sliding = config.usesSlidingWindow(index);

    const WeightReader reader(source, dtype);
    const std::string prefix = "model.layers." + std::to_string(index) + ".";
    const std::int64_t h = config.hiddenSize, d = config.headDim, ffn = config.intermediateSize;
    const std::int64_t qRows = config.numHeads * d, kvRows = config.numKvHeads * d;

    std::vector<at::Tensor> loaded;
    auto take = [&](const std::string &name, std::vector<std::int64_t> shape) -> Result<void> {
        auto tensor = reader.require(prefix + name, std::move(shape));
        if (!tensor)
            return tensor.error();
        loaded.push_back(std::move(tensor).value());
        return {};
    };
    for (auto result : {take("input_layernorm.weight", {h}),
                        take("self_attn.q_proj.weight", {qRows, h}),
                        take("self_attn.k_proj.weight", {kvRows, h}),
                        take("self_attn.v_proj.weight", {kvRows, h}),
                        take("self_attn.o_proj.weight", {h, qRows}),
                        take("post_attention_layernorm.weight", {h}),
                        take("mlp.gate_proj.weight", {ffn, h}),
                        take("mlp.up_proj.weight", {ffn, h}),
                        take("mlp.down_proj.weight", {h, ffn})}) {
        if (!result)
            return result.error();
    }
    block->m_inputNorm = loaded[0];
    block->m_qkv = copyToWeightMemory(at::cat({loaded[1], loaded[2], loaded[3]}));
    block->m_output = copyToWeightMemory(loaded[4]);
    block->m_postNorm = loaded[5];
    block->m_gateUp = copyToWeightMemory(at::cat({loaded[6], loaded[7]}));
    block->m_down = copyToWeightMemory(loaded[8]);

    auto qkvBias = stackedBias(reader, prefix + "self_attn.",
                               {{"q_proj", qRows}, {"k_proj", kvRows}, {"v_proj", kvRows}},
                               config.qkvBias);
    auto outputBias = stackedBias(reader, prefix + "self_attn.", {{"o_proj", h}}, config.outputBias);
    auto gateUpBias = stackedBias(reader, prefix + "mlp.", {{"gate_proj", ffn}, {"up_proj", ffn}},
                                  config.mlpBias);
    auto downBias = stackedBias(reader, prefix + "mlp.", {{"down_proj", h}}, config.mlpBias);
    for (const auto *bias : {&qkvBias, &outputBias, &gateUpBias, &downBias}) {
        if (!*bias)
            return bias->error();
    }
    block->m_qkvBias = *qkvBias;
    block->m_outputBias = *outputBias;
    block->m_gateUpBias = *gateUpBias;
    block->m_downBias = *downBias;
    return std::unique_ptr<Block>(std::move(block));
}

at::Tensor LlamaBlock::forward(const at::Tensor &x, LayerCache &cache, const StepContext &ctx) const
{
    const std::int64_t batch = x.size(0), steps = x.size(1);
    const std::int64_t qRows = m_numHeads * m_headDim, kvRows = m_numKvHeads * m_headDim;

    // Attention: normalise, project to q, k, v, rotate q and k by position.
    const at::Tensor normed = ops::rmsNorm(x, m_inputNorm, m_eps);           // [b, T, hidden]
    const at::Tensor qkv = ops::linear(normed, m_qkv, m_qkvBias);             // [b, T, qRows + 2 kvRows]
    at::Tensor q = qkv.narrow(-1, 0, qRows)
                       .view({batch, steps, m_numHeads, m_headDim})
                       .transpose(1, 2);                                      // [b, nHeads, T, D]
    at::Tensor k = qkv.narrow(-1, qRows, kvRows)
                       .view({batch, steps, m_numKvHeads, m_headDim})
                       .transpose(1, 2);                                      // [b, nKv, T, D]
    const at::Tensor v = qkv.narrow(-1, qRows + kvRows, kvRows)
                             .view({batch, steps, m_numKvHeads, m_headDim})
                             .transpose(1, 2);                                // [b, nKv, T, D]
    q = ops::applyRotary(q, ctx.rotaryCos, ctx.rotarySin);
    k = ops::applyRotary(k, ctx.rotaryCos, ctx.rotarySin);

    // Append this step to the cache and attend over everything visible.
    const auto [keys, values] = KvCache::append(cache, ctx, k, v);            // [b, nKv, S, D]
    const at::Tensor &mask = m_sliding ? ctx.slidingMask : ctx.causalMask;   // [b, 1, T, S]
    const at::Tensor attended =
        ops::attention(q, keys, values, mask, 1.0 / std::sqrt(double(m_headDim))); // [b, T, qRows]
    const at::Tensor afterAttention = x + ops::linear(attended, m_output, m_outputBias);

    // MLP: down(silu(gate(h)) * up(h)).
    const at::Tensor normed2 = ops::rmsNorm(afterAttention, m_postNorm, m_eps);
    const at::Tensor gateUp = ops::linear(normed2, m_gateUp, m_gateUpBias);   // [b, T, 2 ffn]
    const at::Tensor activated =
        at::silu(gateUp.narrow(-1, 0, m_intermediate)) * gateUp.narrow(-1, m_intermediate, m_intermediate);
    return afterAttention + ops::linear(activated, m_down, m_downBias);      // [b, T, hidden]
}

std::int64_t LlamaBlock::weightBytes() const
{
    return tensorBytes({m_inputNorm, m_qkv, m_qkvBias, m_output, m_outputBias, m_postNorm,
                        m_gateUp, m_gateUpBias, m_down, m_downBias});
}

} // namespace corolla
