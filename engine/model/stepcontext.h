#pragma once
// What every block of a span needs to know about one step: where each sequence's new tokens
// go in the KV cache, their positions, and the attention masks. Built once, shared by blocks.
// Thread: the compute thread that runs the step.

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/compute.h"

namespace corolla {

class LoraAdapter;

// Receives a block's named intermediates ("attn_norm", "q", ... "out"; docs/adding-a-model.md
// lists them) while a step runs, to compare a block with a reference implementation.
using IntermediateHook =
    std::function<void(std::int64_t block, std::string_view name, const at::Tensor &value)>;

struct StepContext {
    std::int64_t batch = 0;
    std::int64_t seqLen = 0;             // T: rows per sequence in this step, padding included
    std::vector<std::int64_t> past;      // tokens already cached, per sequence
    std::vector<std::int64_t> newTokens; // real (non-padding) rows, per sequence, <= T
    std::int64_t contextLength = 0;      // cache slots the step attends over: max(past + new)
    bool uniform = false;                // every sequence has the same past and new == T

    at::Tensor positions;  // [batch, T] int64: past + t
    at::Tensor causalMask; // [batch, 1, T, contextLength] float32, 0 or -inf
    at::Tensor
        slidingMask;      // same, also hiding keys more than slidingWindow behind; may be undefined
    at::Tensor rotaryCos; // [batch, 1, T, headDim] compute dtype; Llama and Gemma
    at::Tensor rotarySin;
    at::Tensor localRotaryCos; // the same for sliding-window layers with a rope of their own
    at::Tensor localRotarySin; // (Gemma 3); undefined otherwise

    ComputeBackend backend = ComputeBackend::Native; // how the blocks compute (ops.h)

    const IntermediateHook *hook = nullptr; // set for a step that is inspected
    std::int64_t block = 0;                 // the block running now (its index in the model)
    const LoraAdapter *adapter = nullptr;   // the LoRA adapter the call asked for, if any

    // Hands `value` to the hook under `name`; nothing when the step is not inspected.
    void inspect(std::string_view name, const at::Tensor &value) const
    {
        if (hook)
            (*hook)(block, name, value);
    }

    // Moves the tensors above to `device` (the blocks' one), queued without waiting.
    void moveTo(const c10::Device &device);
};

// The key positions 0 .. contextLength - 1 as fp32 [1, 1, 1, contextLength] on `device`: what
// ALiBi multiplies by each head's slope.
at::Tensor keyPositions(const StepContext &ctx, const c10::Device &device);

// Builds positions and masks for appending `newTokens[b]` rows (padded to `seqLen`) to
// sequences that already hold `past[b]` tokens. `slidingWindow` 0 means none.
StepContext makeStepContext(const std::vector<std::int64_t> &past,
                            const std::vector<std::int64_t> &newTokens, std::int64_t seqLen,
                            std::int64_t slidingWindow);

} // namespace corolla
