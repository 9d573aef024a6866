#include "model/kvcache.h"

#include <ATen/ops/zeros.h>

namespace corolla {

KvCache::KvCache(std::int64_t layers, std::int64_t batch, std::int64_t kvHeads,
                 std::int64_t capacity, std::int64_t headDim, at::ScalarType dtype,
                 const c10::Device &device)
    : m_lengths(std::size_t(batch), 0)
    , m_capacity(capacity)
{
    // Zeros, not uninitialised memory: masked slots are multiplied by a zero probability,
    // and 0 * NaN would poison the sequences that are real.
    const auto options = at::TensorOptions().dtype(dtype).device(device);
    for (std::int64_t i = 0; i < layers; ++i) {
        m_layers.push_back({at::zeros({batch, kvHeads, capacity, headDim}, options),
                            at::zeros({batch, kvHeads, capacity, headDim}, options)});
    }
}

std::int64_t KvCache::bytes() const
{
    std::int64_t total = 0;
    for (const LayerCache &layer : m_layers)
        total += std::int64_t(layer.keys.nbytes() + layer.values.nbytes());
    return total;
}

Result<StepContext> KvCache::beginStep(const std::vector<std::int64_t> &newTokens,
                                       std::int64_t seqLen, std::int64_t slidingWindow) const
{
    if (std::int64_t(newTokens.size()) != batch())
        return makeError(ErrorCode::InvalidArgument, "step has " + std::to_string(newTokens.size())
                                                         + " sequences, the cache holds "
                                                         + std::to_string(batch()));
    for (std::size_t b = 0; b < newTokens.size(); ++b) {
        if (newTokens[b] < 0 || newTokens[b] > seqLen)
            return makeError(ErrorCode::InvalidArgument, "sequence " + std::to_string(b) + " has "
                                                             + std::to_string(newTokens[b])
                                                             + " new tokens in a step of "
                                                             + std::to_string(seqLen));
        if (m_lengths[b] + newTokens[b] > m_capacity)
            return makeError(ErrorCode::ResourceExhausted,
                             "sequence " + std::to_string(b) + " would hold "
                                 + std::to_string(m_lengths[b] + newTokens[b])
                                 + " tokens; the cache was sized for "
                                 + std::to_string(m_capacity));
    }
    return makeStepContext(m_lengths, newTokens, seqLen, slidingWindow);
}

void KvCache::commitStep(const StepContext &ctx)
{
    for (std::size_t b = 0; b < m_lengths.size(); ++b)
        m_lengths[b] += ctx.newTokens[b];
}

std::pair<at::Tensor, at::Tensor> KvCache::append(LayerCache &layer, const StepContext &ctx,
                                                  const at::Tensor &keys, const at::Tensor &values)
{
    if (ctx.uniform) {
        layer.keys.narrow(2, ctx.past[0], ctx.seqLen).copy_(keys);
        layer.values.narrow(2, ctx.past[0], ctx.seqLen).copy_(values);
    } else {
        for (std::int64_t b = 0; b < ctx.batch; ++b) {
            const std::int64_t count = ctx.newTokens[std::size_t(b)];
            if (count == 0)
                continue;
            const std::int64_t start = ctx.past[std::size_t(b)];
            layer.keys[b].narrow(1, start, count).copy_(keys[b].narrow(1, 0, count));
            layer.values[b].narrow(1, start, count).copy_(values[b].narrow(1, 0, count));
        }
    }
    return {layer.keys.narrow(2, 0, ctx.contextLength),
            layer.values.narrow(2, 0, ctx.contextLength)};
}

} // namespace corolla
