#include "model/stepcontext.h"

#include <algorithm>
#include <limits>

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>

#include "model/placement.h"

namespace corolla {

StepContext makeStepContext(const std::vector<std::int64_t> &past,
                            const std::vector<std::int64_t> &newTokens, std::int64_t seqLen,
                            std::int64_t slidingWindow)
{
    StepContext ctx;
    ctx.batch = std::int64_t(past.size());
    ctx.seqLen = seqLen;
    ctx.past = past;
    ctx.newTokens = newTokens;
    ctx.uniform = true;
    for (std::int64_t b = 0; b < ctx.batch; ++b) {
        ctx.contextLength = std::max(ctx.contextLength, past[b] + newTokens[b]);
        ctx.uniform = ctx.uniform && past[b] == past[0] && newTokens[b] == seqLen;
    }
    ctx.contextLength = std::max<std::int64_t>(ctx.contextLength, 1);

    const at::Tensor pastTensor = at::tensor(past, at::kLong).view({ctx.batch, 1});
    const at::Tensor steps = at::arange(seqLen, at::kLong).view({1, seqLen});
    ctx.positions = pastTensor + steps; // [batch, T]

    // Query row t of sequence b sees key slot j when j <= past[b] + t (and, with a sliding
    // window, j > past[b] + t - window). Padding rows see a prefix too, so no row of the
    // softmax is empty and nothing becomes NaN.
    const at::Tensor keys = at::arange(ctx.contextLength, at::kLong).view({1, 1, 1, -1});
    const at::Tensor queries = ctx.positions.view({ctx.batch, 1, seqLen, 1});
    const at::Tensor zero = at::zeros({}, at::kFloat);
    const at::Tensor minusInf = at::full({}, -std::numeric_limits<float>::infinity(), at::kFloat);
    const at::Tensor visible = keys <= queries;
    ctx.causalMask = at::where(visible, zero, minusInf);
    if (slidingWindow > 0)
        ctx.slidingMask = at::where(visible & (keys > queries - slidingWindow), zero, minusInf);
    return ctx;
}

void StepContext::moveTo(const c10::Device &device)
{
    for (at::Tensor *tensor : {&positions, &causalMask, &slidingMask, &rotaryCos, &rotarySin,
                               &localRotaryCos, &localRotarySin}) {
        if (tensor->defined())
            *tensor = toDevice(*tensor, device);
    }
}

at::Tensor keyPositions(const StepContext &ctx, const c10::Device &device)
{
    return at::arange(ctx.contextLength, at::TensorOptions(at::kFloat).device(device))
        .view({1, 1, 1, -1});
}

} // namespace corolla
