#pragma once
// Keys and values of past tokens for a span of blocks and a batch of sequences, in the
// engine's own layout: per layer [batch, kvHeads, capacity, headDim].
// Thread: owned by one compute thread at a time.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "model/stepcontext.h"

namespace corolla {

struct LayerCache {
    at::Tensor keys;   // [batch, kvHeads, capacity, headDim]
    at::Tensor values; // [batch, kvHeads, capacity, headDim]
};

class KvCache {
public:
    KvCache(std::int64_t layers, std::int64_t batch, std::int64_t kvHeads, std::int64_t capacity,
            std::int64_t headDim, at::ScalarType dtype,
            const c10::Device &device = c10::Device(c10::kCPU));

    std::int64_t batch() const { return std::int64_t(m_lengths.size()); }
    std::int64_t capacity() const { return m_capacity; }
    std::int64_t layers() const { return std::int64_t(m_layers.size()); }
    const std::vector<std::int64_t> &lengths() const { return m_lengths; }
    LayerCache &layer(std::int64_t index) { return m_layers[std::size_t(index)]; }
    std::int64_t bytes() const;

    // Checks that `newTokens` (padded to `seqLen`) fit, and builds the step's context.
    Result<StepContext> beginStep(const std::vector<std::int64_t> &newTokens, std::int64_t seqLen,
                                  std::int64_t slidingWindow) const;
    // Records that the step's tokens are now cached.
    void commitStep(const StepContext &ctx);

    // Writes a step's keys/values ([batch, kvHeads, T, headDim]) into the layer's slots and
    // returns the keys/values visible to the step ([batch, kvHeads, contextLength, headDim]).
    static std::pair<at::Tensor, at::Tensor> append(LayerCache &layer, const StepContext &ctx,
                                                    const at::Tensor &keys,
                                                    const at::Tensor &values);

private:
    std::vector<LayerCache> m_layers;
    std::vector<std::int64_t> m_lengths;
    std::int64_t m_capacity = 0;
};

} // namespace corolla
