#include "model/blockspan.h"

#include <algorithm>
#include <optional>

#include <ATen/ops/cat.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include "model/kernelthreads.h"
#include "model/ops.h"

namespace corolla {

namespace {

// `x` [batch, T, hidden] with `prompt` [batch or 1, prefix, hidden] added at the positions
// below the prefix, where the rows of sequence b hold the positions starts[b], starts[b] + 1...
// Out of place, so that a recorded pass can differentiate through it.
at::Tensor withPrompt(const at::Tensor &x, const at::Tensor &prompt,
                      const std::vector<std::int64_t> &starts)
{
    const std::int64_t prefix = prompt.size(1), steps = x.size(1);
    if (std::all_of(starts.begin(), starts.end(),
                    [&](std::int64_t start) { return start == starts.front(); })) {
        const std::int64_t start = starts.front();
        const std::int64_t rows = std::clamp<std::int64_t>(prefix - start, 0, steps);
        if (rows == 0)
            return x;
        at::Tensor head = x.narrow(1, 0, rows) + prompt.narrow(1, start, rows).to(x.scalar_type());
        return rows == steps ? head : at::cat({head, x.narrow(1, rows, steps - rows)}, 1);
    }
    std::vector<at::Tensor> sequences;
    for (std::int64_t b = 0; b < x.size(0); ++b)
        sequences.push_back(withPrompt(x.narrow(0, b, 1),
                                       prompt.size(0) == 1 ? prompt : prompt.narrow(0, b, 1),
                                       {starts[std::size_t(b)]}));
    return at::cat(sequences, 0);
}

// Zeroes the rows of `tensor` [batch, T, ...] past each sequence's length.
void zeroPadding(at::Tensor &tensor, const std::vector<std::int64_t> &lengths)
{
    for (std::int64_t b = 0; b < tensor.size(0); ++b)
        if (lengths[std::size_t(b)] < tensor.size(1))
            tensor[b]
                .narrow(0, lengths[std::size_t(b)], tensor.size(1) - lengths[std::size_t(b)])
                .zero_();
}

} // namespace

at::ScalarType scalarTypeOf(ComputeDtype dtype)
{
    return dtype == ComputeDtype::BFloat16 ? at::kBFloat16 : at::kFloat;
}

Result<at::ScalarType> parseComputeDtype(const std::string &name)
{
    auto dtype = computeDtypeFromName(name);
    if (!dtype)
        return dtype.error();
    return scalarTypeOf(*dtype);
}

const char *computeDtypeName(at::ScalarType dtype)
{
    return computeDtypeName(dtype == at::kBFloat16 ? ComputeDtype::BFloat16 : ComputeDtype::Float32)
        .data();
}

Result<std::unique_ptr<BlockSpan>> BlockSpan::load(const ModelConfig &config,
                                                   const TensorSource &source, std::int64_t begin,
                                                   std::int64_t end, at::ScalarType dtype,
                                                   Quantization quantization,
                                                   const Placement &placement)
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
    span->m_quantization = quantization;
    span->m_placement = placement;
    span->m_prepareStep = stepPreparation(config);
    // Not InferenceMode: weights made there could never take part in a backward pass.
    at::NoGradGuard noGrad;
    for (std::int64_t index = begin; index < end; ++index) {
        auto block = loadBlock(config, source, index, dtype, quantization, placement.device);
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

std::int64_t BlockSpan::tokenWeightBytes() const
{
    std::int64_t total = 0;
    for (const auto &block : m_blocks)
        total += block->tokenWeightBytes();
    return total;
}

KvCache BlockSpan::makeCache(std::int64_t batch, std::int64_t capacity) const
{
    return makeCache(batch, capacity, m_begin, m_end);
}

KvCache BlockSpan::makeCache(std::int64_t batch, std::int64_t capacity, std::int64_t from,
                             std::int64_t to) const
{
    return KvCache(to - from, batch, m_config.numKvHeads, capacity, m_config.headDim, m_dtype,
                   m_placement.device);
}

std::int64_t BlockSpan::cacheBytesPerTokenPerBlock() const
{
    return 2 * m_config.numKvHeads * m_config.headDim * at::elementSize(m_dtype);
}

Result<void> BlockSpan::checkRange(std::int64_t from, std::int64_t to) const
{
    if (from < m_begin || to > m_end || from >= to)
        return makeError(ErrorCode::InvalidArgument,
                         "blocks [" + std::to_string(from) + ", " + std::to_string(to)
                             + ") are not inside the served span [" + std::to_string(m_begin) + ", "
                             + std::to_string(m_end) + ")");
    return {};
}

Result<void> BlockSpan::checkHidden(const at::Tensor &hidden) const
{
    if (hidden.dim() != 3 || hidden.size(2) != m_config.hiddenSize)
        return makeError(ErrorCode::InvalidArgument, "hidden states must be [batch, tokens, "
                                                         + std::to_string(m_config.hiddenSize)
                                                         + "]");
    return {};
}

Result<void> BlockSpan::checkDeepPrompts(const DeepPrompts &prompts, std::int64_t from,
                                         std::int64_t to, std::int64_t batch) const
{
    if (!prompts.defined())
        return {};
    if (prompts.dim() != 4 || prompts.size(0) != to - from
        || (prompts.size(1) != batch && prompts.size(1) != 1) || prompts.size(2) < 1
        || prompts.size(3) != m_config.hiddenSize)
        return makeError(ErrorCode::InvalidArgument,
                         "deep prompts must be [" + std::to_string(to - from) + " blocks, "
                             + std::to_string(batch) + " sequences or 1, prefix, "
                             + std::to_string(m_config.hiddenSize) + "]");
    if (prompts.scalar_type() != at::kFloat)
        return makeError(ErrorCode::InvalidArgument, "deep prompts must be float32");
    return {};
}

Result<void> BlockSpan::checkAdapter(const LoraAdapter *adapter, std::int64_t from,
                                     std::int64_t to) const
{
    if (!adapter)
        return {};
    if (adapter->begin() > from || adapter->end() < to)
        return makeError(ErrorCode::InvalidArgument,
                         "the adapter " + adapter->name() + " is loaded for blocks ["
                             + std::to_string(adapter->begin()) + ", "
                             + std::to_string(adapter->end()) + "), not all of ["
                             + std::to_string(from) + ", " + std::to_string(to) + ")");
    if (adapter->dtype() != m_dtype)
        return makeError(ErrorCode::InvalidArgument,
                         "the adapter " + adapter->name()
                             + " is loaded in another dtype than the blocks");
    return {};
}

Result<at::Tensor> BlockSpan::step(const at::Tensor &hidden, KvCache &cache,
                                   const std::vector<std::int64_t> &newTokens) const
{
    return step(hidden, cache, newTokens, m_begin, m_end);
}

Result<void> BlockSpan::checkCall(const at::Tensor &hidden, std::int64_t from, std::int64_t to,
                                  const SpanCallOptions &options) const
{
    if (auto checked = checkRange(from, to); !checked)
        return checked.error();
    if (auto checked = checkHidden(hidden); !checked)
        return checked.error();
    if (auto checked = checkDeepPrompts(options.prompts, from, to, hidden.size(0)); !checked)
        return checked.error();
    return checkAdapter(options.adapter, from, to);
}

at::Tensor BlockSpan::runBlocks(at::Tensor x, KvCache &cache, StepContext &ctx, std::int64_t from,
                                std::int64_t to, const DeepPrompts &prompts,
                                const std::vector<std::int64_t> &starts) const
{
    if (m_prepareStep)
        m_prepareStep(ctx, m_dtype);
    ctx.moveTo(m_placement.device);
    ctx.backend = m_placement.effectiveBackend();
    for (std::int64_t i = from; i < to; ++i) {
        ctx.block = i;
        if (prompts.defined())
            x = withPrompt(x, prompts[i - from], starts);
        x = m_blocks[std::size_t(i - m_begin)]->forward(x, cache.layer(i - from), ctx);
    }
    return x;
}

Result<at::Tensor> BlockSpan::step(const at::Tensor &hidden, KvCache &cache,
                                   const std::vector<std::int64_t> &newTokens, std::int64_t from,
                                   std::int64_t to, const SpanCallOptions &options) const
{
    if (auto checked = checkCall(hidden, from, to, options); !checked)
        return checked.error();
    if (hidden.size(0) != cache.batch() || cache.layers() != to - from)
        return makeError(ErrorCode::InvalidArgument,
                         "hidden states and cache disagree on the batch or blocks");
    auto context = cache.beginStep(newTokens, hidden.size(1), m_config.slidingWindow);
    if (!context)
        return context.error();
    c10::InferenceMode inference;
    // Decode steps run their products on the kernel pool: keep its threads spinning between
    // them (see kernelpool.h). Longer steps go to libtorch, whose threads would compete.
    std::optional<KernelPool::Burst> burst;
    if (!m_placement.generic() && hidden.size(0) * hidden.size(1) <= ops::kGemvMaxRows)
        burst.emplace(kernelPool());
    StepContext &ctx = *context;
    ctx.hook = options.inspect ? &options.inspect : nullptr;
    ctx.adapter = options.adapter;
    const std::vector<std::int64_t> starts = cache.lengths(); // positions before this step
    const c10::Device &device = m_placement.device;
    const at::Tensor prompts =
        options.prompts.defined() ? toDevice(options.prompts, device) : options.prompts;
    at::Tensor x =
        runBlocks(toDevice(hidden, device).to(m_dtype), cache, ctx, from, to, prompts, starts);
    cache.commitStep(ctx);
    return x;
}

Result<at::Tensor> BlockSpan::forward(const at::Tensor &hidden,
                                      const std::vector<std::int64_t> &lengths) const
{
    return forward(hidden, lengths, m_begin, m_end);
}

Result<at::Tensor> BlockSpan::forward(const at::Tensor &hidden,
                                      const std::vector<std::int64_t> &lengths, std::int64_t from,
                                      std::int64_t to, const SpanCallOptions &options) const
{
    if (auto checked = checkHidden(hidden); !checked)
        return checked.error();
    KvCache cache = makeCache(hidden.size(0), std::max<std::int64_t>(1, hidden.size(1)), from, to);
    return step(hidden, cache, lengths, from, to, options);
}

Result<SpanGradients> BlockSpan::backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                          const std::vector<std::int64_t> &lengths,
                                          std::int64_t from, std::int64_t to,
                                          const SpanCallOptions &options) const
{
    if (auto checked = checkCall(hidden, from, to, options); !checked)
        return checked.error();
    if (!gradOutput.sizes().equals(hidden.sizes()))
        return makeError(ErrorCode::InvalidArgument,
                         "output gradients must have the shape of the inputs");
    // The forward pass again, this time recorded: the cache lives only for this call.
    at::AutoGradMode recording(true);
    KvCache cache = makeCache(hidden.size(0), std::max<std::int64_t>(1, hidden.size(1)), from, to);
    auto context = cache.beginStep(lengths, hidden.size(1), m_config.slidingWindow);
    if (!context)
        return context.error();
    context->adapter = options.adapter;
    const DeepPrompts &prompts = options.prompts;
    const c10::Device &device = m_placement.device;
    const at::Tensor input = toDevice(hidden, device).to(m_dtype).detach().requires_grad_(true);
    const at::Tensor promptLeaf =
        prompts.defined() ? toDevice(prompts, device).detach().requires_grad_(true) : at::Tensor();
    const std::vector<std::int64_t> starts(std::size_t(hidden.size(0)), 0);
    const at::Tensor x = runBlocks(input, cache, *context, from, to, promptLeaf, starts);
    // Padding rows carry no loss: mask them out of the incoming gradient.
    at::Tensor grad = toDevice(gradOutput, device).to(at::kFloat).clone();
    zeroPadding(grad, lengths);
    x.to(at::kFloat).backward(grad);
    SpanGradients gradients;
    gradients.input = input.grad().to(at::kFloat).detach();
    zeroPadding(gradients.input, lengths);
    if (promptLeaf.defined())
        gradients.prompts =
            promptLeaf.grad().defined() ? promptLeaf.grad().detach() : at::zeros_like(promptLeaf);
    return gradients;
}

} // namespace corolla
