#include "model/blockspan.h"

#include <c10/core/InferenceMode.h>

namespace corolla {

Result<at::ScalarType> parseComputeDtype(const std::string &name)
{
    if (name == "fp32" || name == "float32")
        return at::kFloat;
    if (name == "bf16" || name == "bfloat16")
        return at::kBFloat16;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown dtype '" + name + "' (choose fp32 or bf16)");
}

const char *computeDtypeName(at::ScalarType dtype)
{
    return dtype == at::kBFloat16 ? "bf16" : "fp32";
}

Result<std::unique_ptr<BlockSpan>> BlockSpan::load(const ModelConfig &config,
                                                   const TensorSource &source, std::int64_t begin,
                                                   std::int64_t end, at::ScalarType dtype)
{
    if (begin < 0 || end > config.numLayers || begin >= end)
        return makeError(ErrorCode::InvalidArgument,
                         "block range [" + std::to_string(begin) + ", " + std::to_string(end)
                             + ") is not inside the model's " + std::to_string(config.numLayers)
                             + " blocks");
    if (dtype != at::kFloat && dtype != at::kBFloat16)
        return makeError(ErrorCode::InvalidArgument, "compute dtype must be fp32 or bf16");
    auto span = std::unique_ptr<BlockSpan>(new BlockSpan);
    span->m_config = config;
    span->m_begin = begin;
    span->m_end = end;
    span->m_dtype = dtype;
    if (config.architecture == Architecture::Llama)
        span->m_rotary.emplace(config.rope, config.headDim);
    c10::InferenceMode inference;
    for (std::int64_t index = begin; index < end; ++index) {
        auto block = loadBlock(config, source, index, dtype);
        if (!block)
            return block.error();
        span->m_blocks.push_back(std::move(block).value());
    }
    return span;
}

std::int64_t BlockSpan::weightBytes() const
{
    std::int64_t total = 0;
    for (const auto &block : m_blocks)
        total += block->weightBytes();
    return total;
}

KvCache BlockSpan::makeCache(std::int64_t batch, std::int64_t capacity) const
{
    return KvCache(m_end - m_begin, batch, m_config.numKvHeads, capacity, m_config.headDim, m_dtype);
}

Result<at::Tensor> BlockSpan::step(const at::Tensor &hidden, KvCache &cache,
                                   const std::vector<std::int64_t> &newTokens) const
{
    if (hidden.dim() != 3 || hidden.size(2) != m_config.hiddenSize)
        return makeError(ErrorCode::InvalidArgument,
                         "hidden states must be [batch, tokens, " + std::to_string(m_config.hiddenSize) + "]");
    if (hidden.size(0) != cache.batch())
        return makeError(ErrorCode::InvalidArgument, "hidden states and cache disagree on the batch size");
    auto context = cache.beginStep(newTokens, hidden.size(1), m_config.slidingWindow);
    if (!context)
        return context.error();
    c10::InferenceMode inference;
    StepContext &ctx = *context;
    if (m_rotary)
        m_rotary->fill(ctx, m_dtype);
    at::Tensor x = hidden.to(m_dtype);
    for (std::size_t i = 0; i < m_blocks.size(); ++i)
        x = m_blocks[i]->forward(x, cache.layer(std::int64_t(i)), ctx);
    cache.commitStep(ctx);
    return x;
}

Result<at::Tensor> BlockSpan::forward(const at::Tensor &hidden,
                                      const std::vector<std::int64_t> &lengths) const
{
    KvCache cache = makeCache(hidden.size(0), std::max<std::int64_t>(1, hidden.size(1)));
    return step(hidden, cache, lengths);
}

} // namespace corolla
