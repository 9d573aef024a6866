#include "model/arch/mixtralblock.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros_like.h>

#include "model/arch/llamablock.h"
#include "model/ops.h"
#include "model/placement.h"

namespace corolla {

MixtralBlock::MixtralBlock(const ModelConfig &config, std::int64_t index)
    : m_intermediate(config.intermediateSize)
    , m_expertsPerToken(config.expertsPerToken)
    , m_eps(config.normEps)
    , m_attention(config, index, ops::rmsNorm)
    , m_gateUp(std::size_t(config.numExperts))
    , m_down(std::size_t(config.numExperts))
{
}

Result<std::unique_ptr<Block>> MixtralBlock::load(const ModelConfig &config,
                                                  const TensorSource &source, std::int64_t index,
                                                  at::ScalarType dtype, Quantization quantization,
                                                  const c10::Device &device)
{
    auto block = std::make_unique<MixtralBlock>(config, index);
    const std::int64_t h = config.hiddenSize, ffn = config.intermediateSize;
    MixtralBlock &b = *block;
    std::vector<WeightSlot> slots = b.m_attention.slots(config, &b.m_inputNorm);
    slots.push_back({&b.m_postNorm, {{"post_attention_layernorm.weight", {h}}}});
    slots.push_back({&b.m_router, {{"block_sparse_moe.gate.weight", {config.numExperts, h}}}});
    for (std::int64_t e = 0; e < config.numExperts; ++e) {
        const std::string expert = "block_sparse_moe.experts." + std::to_string(e) + ".";
        slots.push_back({&b.m_gateUp[std::size_t(e)],
                         {{expert + "w1.weight", {ffn, h}}, {expert + "w3.weight", {ffn, h}}}});
        slots.push_back({&b.m_down[std::size_t(e)], {{expert + "w2.weight", {h, ffn}}}});
    }
    if (auto read = WeightReader(source, dtype, quantization, device)
                        .read("model.layers." + std::to_string(index) + ".", slots);
        !read)
        return read.error();
    return std::unique_ptr<Block>(std::move(block));
}

std::vector<LoraTarget> MixtralBlock::loraTargets(const ModelConfig &config)
{
    std::vector<LoraTarget> targets = LlamaBlock::loraTargets(config);
    std::erase_if(targets, [](const LoraTarget &target) {
        return target.projection != Projection::AttentionIn
               && target.projection != Projection::AttentionOut;
    });
    return targets;
}

at::Tensor MixtralBlock::forward(const at::Tensor &x, LayerCache &cache,
                                 const StepContext &ctx) const
{
    const at::Tensor normed = ops::rmsNorm(x, m_inputNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("attn_norm", normed);
    const at::Tensor afterAttention = x + m_attention.forward(normed, cache, ctx); // [b, T, hidden]
    ctx.inspect("attn_residual", afterAttention);

    const at::Tensor normed2 =
        ops::rmsNorm(afterAttention, m_postNorm, m_eps, ctx.backend); // [b, T, hidden]
    ctx.inspect("ffn_norm", normed2);
    const at::Tensor mixed = experts(normed2.reshape({-1, normed2.size(-1)}), ctx.backend)
                                 .view(normed2.sizes()); // [b, T, hidden]
    ctx.inspect("ffn_moe", mixed);
    const at::Tensor out = afterAttention + mixed; // [b, T, hidden]
    ctx.inspect("out", out);
    return out;
}

at::Tensor MixtralBlock::experts(const at::Tensor &hidden, ComputeBackend backend) const
{
    // Route in fp32 over all experts; the chosen weights, renormalised, in the compute dtype.
    const at::Tensor probabilities =
        at::softmax(ops::linear(hidden, m_router, {}, backend).to(at::kFloat), -1); // [N, experts]
    const auto [top, chosen] = probabilities.topk(m_expertsPerToken, -1);
    const at::Tensor weights = (top / top.sum(-1, true)).to(hidden.scalar_type()); // [N, k]

    // Each expert runs once on the rows that chose it; the sum goes expert by expert.
    // The routing is read on the host (on a GPU, one wait per block and step).
    const at::Tensor choices = toHost(chosen.contiguous());
    const auto choice = choices.accessor<std::int64_t, 2>();
    at::Tensor output = at::zeros_like(hidden);
    for (std::size_t e = 0; e < m_gateUp.size(); ++e) {
        std::vector<std::int64_t> rows, picks;
        for (std::int64_t n = 0; n < choices.size(0); ++n) {
            for (std::int64_t j = 0; j < m_expertsPerToken; ++j) {
                if (choice[n][j] == std::int64_t(e)) {
                    rows.push_back(n);
                    picks.push_back(n * m_expertsPerToken + j);
                }
            }
        }
        if (rows.empty())
            continue;
        const at::Tensor index = toDevice(at::tensor(rows, at::kLong), hidden.device());
        const at::Tensor input = hidden.index_select(0, index); // [n_e, hidden]
        const at::Tensor gateUp = ops::linear(input, m_gateUp[e], {}, backend);
        const at::Tensor activated = ops::siluGate(gateUp, m_intermediate, backend);
        const at::Tensor scale =
            weights.reshape({-1})
                .index_select(0, toDevice(at::tensor(picks, at::kLong), hidden.device()))
                .unsqueeze(-1);
        output.index_add_(0, index, ops::linear(activated, m_down[e], {}, backend) * scale);
    }
    return output;
}

std::int64_t MixtralBlock::sharedBytes() const
{
    return m_attention.weightBytes()
           + corolla::weightBytes({m_inputNorm, m_postNorm, m_router}, {});
}

std::int64_t MixtralBlock::expertBytes() const
{
    std::int64_t bytes = 0;
    for (std::size_t e = 0; e < m_gateUp.size(); ++e)
        bytes += corolla::weightBytes({}, {&m_gateUp[e], &m_down[e]});
    return bytes;
}

std::int64_t MixtralBlock::weightBytes() const
{
    return sharedBytes() + expertBytes();
}

std::int64_t MixtralBlock::tokenWeightBytes() const
{
    return sharedBytes() + m_expertsPerToken * expertBytes() / std::int64_t(m_gateUp.size());
}

} // namespace corolla
