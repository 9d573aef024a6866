#pragma once
// A contiguous range of a model's blocks, [begin, end), loaded and ready to run: what a
// server holds, and what the local engine chains over the whole model.
// Thread: one compute thread at a time runs step()/forward().

#include <memory>
#include <optional>
#include <vector>

#include "core/compute.h"
#include "model/block.h"
#include "model/kvcache.h"
#include "model/ops.h"
#include "model/placement.h"

namespace corolla {

// The trainable prompts of deep prompt tuning for the blocks [from, to) of a call: float32
// [to - from, batch or 1, prefix, hiddenSize]. Before block from + i runs, prompts[i] is added
// to the hidden states of the sequence positions [0, prefix); a step whose positions start
// later gets only the rows still inside the prefix. An undefined tensor means no prompts.
// Check them with checkDeepPrompts() before a call.
using DeepPrompts = at::Tensor;

// What backward() answers: the gradients of the inputs and of the deep prompts (undefined
// when the call had none), both float32.
struct SpanGradients {
    at::Tensor input;
    at::Tensor prompts;
};

// What a call adds to the plain blocks [from, to); every part is optional.
struct SpanCallOptions {
    // Added as DeepPrompts says, at the positions the call holds.
    DeepPrompts prompts;
    // Receives every block's named intermediates (step() and forward(); backward() does not
    // call it).
    IntermediateHook inspect;
    // Adds its low-rank updates to the projections it adapts.
    const LoraAdapter *adapter = nullptr;
};

class BlockSpan {
public:
    // Loads blocks [begin, end) of `config` from `source` in `dtype` (fp32 or bf16), their
    // projections packed as `quantization`, onto `placement`'s device, block by block. Calls
    // take hidden states on any device and answer on that one (placement.h copies them).
    static Result<std::unique_ptr<BlockSpan>> load(const ModelConfig &config,
                                                   const TensorSource &source, std::int64_t begin,
                                                   std::int64_t end, at::ScalarType dtype,
                                                   Quantization quantization = Quantization::None,
                                                   const Placement &placement = {});

    std::int64_t begin() const { return m_begin; }
    std::int64_t end() const { return m_end; }
    at::ScalarType dtype() const { return m_dtype; }
    Quantization quantization() const { return m_quantization; }
    const Placement &placement() const { return m_placement; }
    const ModelConfig &config() const { return m_config; }
    std::int64_t weightBytes() const;
    // The bytes one decoded token reads (Block::tokenWeightBytes of every block).
    std::int64_t tokenWeightBytes() const;

    // An empty cache for `batch` sequences of up to `capacity` tokens each, for the blocks
    // [from, to) of the span (the whole span by default).
    KvCache makeCache(std::int64_t batch, std::int64_t capacity) const;
    KvCache makeCache(std::int64_t batch, std::int64_t capacity, std::int64_t from,
                      std::int64_t to) const;
    // Bytes of KV cache one token takes in one block.
    std::int64_t cacheBytesPerTokenPerBlock() const;

    // Runs one step: hidden [batch, T, hiddenSize], where sequence b's first newTokens[b]
    // rows are real and the rest padding. Appends to `cache`; returns [batch, T, hiddenSize].
    Result<at::Tensor> step(const at::Tensor &hidden, KvCache &cache,
                            const std::vector<std::int64_t> &newTokens) const;

    // step() through the blocks [from, to) of the span only; `cache` made for that range.
    Result<at::Tensor> step(const at::Tensor &hidden, KvCache &cache,
                            const std::vector<std::int64_t> &newTokens, std::int64_t from,
                            std::int64_t to, const SpanCallOptions &options = {}) const;

    // The whole sequences at once, without a lasting cache; `lengths` as in step().
    Result<at::Tensor> forward(const at::Tensor &hidden,
                               const std::vector<std::int64_t> &lengths) const;
    Result<at::Tensor> forward(const at::Tensor &hidden, const std::vector<std::int64_t> &lengths,
                               std::int64_t from, std::int64_t to,
                               const SpanCallOptions &options = {}) const;

    // The gradients of <outputs, gradOutput> with respect to the inputs of blocks [from, to)
    // and to their deep prompts, recomputing the forward pass; the weights stay untouched.
    // Padding positions (past lengths[b]) get zero gradient and give none to the prompts.
    // The input gradient is [batch, T, hiddenSize], the prompts' the shape of `prompts`.
    Result<SpanGradients> backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                   const std::vector<std::int64_t> &lengths, std::int64_t from,
                                   std::int64_t to, const SpanCallOptions &options = {}) const;

    // An error unless `adapter` was loaded for this model and covers the blocks [from, to).
    Result<void> checkAdapter(const LoraAdapter *adapter, std::int64_t from, std::int64_t to) const;

    // An error unless `prompts` are deep prompts for the blocks [from, to) and `batch`
    // sequences of this span's model.
    Result<void> checkDeepPrompts(const DeepPrompts &prompts, std::int64_t from, std::int64_t to,
                                  std::int64_t batch) const;

private:
    Result<void> checkRange(std::int64_t from, std::int64_t to) const;
    Result<void> checkHidden(const at::Tensor &hidden) const;
    // Every check of a call's arguments but the cache's.
    Result<void> checkCall(const at::Tensor &hidden, std::int64_t from, std::int64_t to,
                           const SpanCallOptions &options) const;
    // Blocks [from, to) on x, each after its deep prompt (when there are any) at the
    // positions after `starts`; ctx comes from cache.beginStep(), its tensors still on the
    // host (runBlocks completes and moves them).
    at::Tensor runBlocks(at::Tensor x, KvCache &cache, StepContext &ctx, std::int64_t from,
                         std::int64_t to, const DeepPrompts &prompts,
                         const std::vector<std::int64_t> &starts) const;

    ModelConfig m_config;
    std::int64_t m_begin = 0, m_end = 0;
    at::ScalarType m_dtype = at::kFloat;
    Quantization m_quantization = Quantization::None;
    Placement m_placement;
    std::vector<std::unique_ptr<Block>> m_blocks;
    StepPreparation m_prepareStep; // the family's, see block.h
};

// The tensor type blocks compute in for `dtype`.
at::ScalarType scalarTypeOf(ComputeDtype dtype);
// computeDtypeFromName, as a tensor type.
Result<at::ScalarType> parseComputeDtype(const std::string &name);
// "bf16" for bfloat16, "fp32" otherwise.
const char *computeDtypeName(at::ScalarType dtype);

} // namespace corolla
