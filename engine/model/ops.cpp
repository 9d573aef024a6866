#include "model/ops.h"

#include <cmath>
#include <tuple>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/rsqrt.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/tanh.h>
#include <ATen/ops/where.h>
#if __has_include(<ATen/ops/scaled_dot_product_attention.h>)
#include <ATen/ops/scaled_dot_product_attention.h>
#define COROLLA_HAS_SDPA 1
#else
#define COROLLA_HAS_SDPA 0
#endif

#include "model/decodeattention.h"
#include "model/gemvbf16.h"
#include "model/placement.h"
#include "model/quantkernels.h"
#include "model/rowkernels.h"

namespace corolla::ops {

namespace {

// Whether a call computes with tensor operations only: asked for, or off the CPU.
bool isGeneric(const at::Tensor &x, ComputeBackend backend)
{
    return backend == ComputeBackend::Generic || !x.is_cpu();
}

#if COROLLA_HAS_SDPA
// Generic attention through libtorch's fused kernel (flash or memory-efficient attention on a
// GPU): grouped key heads are repeated to the query heads, the additive mask becomes the
// boolean one (0 visible, -inf hidden) it encodes.
at::Tensor fusedAttention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                          const at::Tensor &mask, double scale)
{
    const std::int64_t batch = q.size(0), heads = q.size(1), steps = q.size(2), dim = q.size(3);
    const std::int64_t kvHeads = k.size(1), context = k.size(2), group = heads / kvHeads;
    const auto repeated = [&](const at::Tensor &t) {
        return group == 1 ? t
                          : t.unsqueeze(2)
                                .expand({batch, kvHeads, group, context, dim})
                                .reshape({batch, heads, context, dim});
    };
    const at::Tensor out = at::scaled_dot_product_attention(q, repeated(k), repeated(v), mask == 0,
                                                            0.0, false, scale); // [b, heads, T, D]
    return out.transpose(1, 2).reshape({batch, steps, heads * dim});
}
#endif

// Steps of at most this many tokens take the fused attention loop.
constexpr std::int64_t kFusedAttentionMaxSteps = 8;

// Whether y = x W^T + b is a small-batch product our kernels cover: bf16 or fp32 throughout,
// a dense weight matrix, at most kGemvMaxRows input rows, no autograd.
bool useGemv(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias)
{
    const at::ScalarType type = weight.scalar_type();
    if (x.scalar_type() != type || (type != at::kBFloat16 && type != at::kFloat))
        return false;
    if (weight.dim() != 2 || !weight.is_contiguous() || x.size(-1) != weight.size(1))
        return false;
    if (bias.defined() && (bias.scalar_type() != type || !bias.is_contiguous()))
        return false;
    if (x.requires_grad() || weight.requires_grad())
        return false;
    const std::int64_t rows = x.numel() / std::max<std::int64_t>(1, x.size(-1));
    return rows >= 1 && rows <= kGemvMaxRows
           && (type == at::kBFloat16 ? hasBf16Gemv() : hasFp32Gemv());
}

// Weight bytes per dequantized tile of a packed product: small enough that a tile is still in
// the core's cache levels when the GEMM reads it, large enough that the GEMM's fixed cost per
// call stays small. Measured on a 2-core Zen 4 (1 MiB L2), TinyLlama shape, 128-token prefill
// against bf16: 128 KiB tiles 0.70-0.73, 512 KiB 0.85-0.98, 2 MiB 0.93-0.99, 8 MiB 0.87.
constexpr std::int64_t kPackedTileBytes = 2 << 20;

// x · tileᵀ + bias for tiles of a weight: libtorch's GEMM in the compute dtype, except bf16
// on a processor without native bf16 products, where libtorch's bf16 GEMM is emulated and
// slow: there the bf16 values are widened to fp32 (exactly) and the fp32 GEMM multiplies
// them — the same products, summed in fp32, rounded to bf16 once when the caller stores them.
class TileProduct {
public:
    explicit TileProduct(const at::Tensor &x)
        : m_widen(x.scalar_type() == at::kBFloat16 && !hasNativeBf16())
        , m_x(m_widen ? x.to(at::kFloat) : x)
    {
    }

    at::Tensor operator()(const at::Tensor &tile, const at::Tensor &bias) const
    {
        if (!m_widen)
            return at::linear(m_x, tile, bias);
        return at::linear(m_x, tile.to(at::kFloat), bias.defined() ? bias.to(at::kFloat) : bias);
    }

private:
    bool m_widen;
    at::Tensor m_x;
};

// Weight bytes per widened chunk of a dense bf16 product: large enough for the fp32 GEMM to
// run at its full rate, small enough that the fp32 copy stays a fraction of the weights.
constexpr std::int64_t kWidenedChunkBytes = 32 << 20;

// x [M, K] bf16 times a dense bf16 weight through TileProduct's widening, a chunk of rows at
// a time (the widening and the GEMM each use every thread).
at::Tensor widenedMatmul(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias)
{
    const std::int64_t n = weight.size(0), k = weight.size(1);
    const std::int64_t chunkRows = std::max<std::int64_t>(1, kWidenedChunkBytes / (k * 4));
    at::Tensor output = at::empty({x.size(0), n}, x.options());
    const TileProduct product(x);
    for (std::int64_t begin = 0; begin < n; begin += chunkRows) {
        const std::int64_t rows = std::min(chunkRows, n - begin);
        output.narrow(1, begin, rows)
            .copy_(product(weight.narrow(0, begin, rows),
                           bias.defined() ? bias.narrow(0, begin, rows) : bias));
    }
    return output;
}

// Whether a product with more rows than the decode kernels take goes to widenedMatmul.
bool useWidenedMatmul(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias)
{
    if (x.scalar_type() != at::kBFloat16 || weight.scalar_type() != at::kBFloat16
        || hasNativeBf16())
        return false;
    if (weight.dim() != 2 || !weight.is_contiguous() || x.size(-1) != weight.size(1))
        return false;
    if (bias.defined() && (bias.scalar_type() != at::kBFloat16 || !bias.is_contiguous()))
        return false;
    return !x.requires_grad() && !weight.requires_grad()
           && !(bias.defined() && bias.requires_grad());
}

// x [M, K] (M > kPackedGemvMaxRows) times a packed weight: tiles of rows dequantized into the
// compute dtype, each multiplied by one thread with the GEMM.
at::Tensor packedMatmul(const at::Tensor &x, const LinearWeight &weight, const at::Tensor &bias)
{
    const std::int64_t n = weight.outFeatures(), k = weight.inFeatures();
    const at::ScalarType dtype = x.scalar_type();
    const std::int64_t elementBytes = dtype == at::kBFloat16 ? 2 : 4;
    const std::int64_t tileRows =
        std::min(n, std::max<std::int64_t>(16, kPackedTileBytes / (k * elementBytes) / 16 * 16));
    const std::int64_t tiles = (n + tileRows - 1) / tileRows;
    at::Tensor output = at::empty({x.size(0), n}, x.options());
    const TileProduct product(x);
    // libtorch's pool threads do not inherit the caller's inference mode.
    const bool inference = c10::InferenceMode::is_enabled();
    at::parallel_for(0, tiles, 1, [&](std::int64_t first, std::int64_t last) {
        const c10::InferenceMode mode(inference);
        std::vector<std::uint8_t> buffer(std::size_t(tileRows * k * elementBytes));
        for (std::int64_t tile = first; tile < last; ++tile) {
            const std::int64_t begin = tile * tileRows, rows = std::min(tileRows, n - begin);
            weight.dequantizeRows(begin, begin + rows, dtype, buffer.data());
            const at::Tensor dense = at::from_blob(buffer.data(), {rows, k}, x.options());
            output.narrow(1, begin, rows)
                .copy_(product(dense, bias.defined() ? bias.narrow(0, begin, rows) : bias));
        }
    });
    return output;
}

} // namespace

at::Tensor linear(const at::Tensor &x, const LinearWeight &weight, const at::Tensor &bias,
                  ComputeBackend backend)
{
    if (weight.quantization() == Quantization::None)
        return linear(x, weight.denseWeight(), bias, backend);
    const at::ScalarType dtype = x.scalar_type();
    if (isGeneric(x, backend))
        return at::linear(x, weight.dequantizeWithTensorOps(dtype),
                          bias.defined() ? bias.to(dtype) : bias);
    if (x.requires_grad() || (dtype != at::kFloat && dtype != at::kBFloat16)
        || x.size(-1) != weight.inFeatures())
        return at::linear(x, weight.dequantize(dtype), bias.defined() ? bias.to(dtype) : bias);
    const at::Tensor input = x.contiguous();
    const std::int64_t k = weight.inFeatures(), n = weight.outFeatures();
    const std::int64_t rows = input.numel() / k;
    auto outputShape = x.sizes().vec();
    outputShape.back() = n;
    const at::Tensor checkedBias = bias.defined() ? bias.to(dtype).contiguous() : bias;
    if (rows > kPackedGemvMaxRows)
        return packedMatmul(input.view({rows, k}), weight, checkedBias).view(outputShape);
    at::Tensor output = at::empty(outputShape, x.options());
    if (rows > 0)
        gemvPacked(weight.packedView(), input.data_ptr(), rows,
                   checkedBias.defined() ? checkedBias.data_ptr() : nullptr, output.data_ptr(),
                   dtype);
    return output;
}

at::Tensor linear(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias,
                  ComputeBackend backend)
{
    if (isGeneric(x, backend))
        return at::linear(x, weight, bias);
    if (!useGemv(x, weight, bias)) {
        if (!useWidenedMatmul(x, weight, bias))
            return at::linear(x, weight, bias);
        const std::int64_t k = weight.size(1);
        auto outputShape = x.sizes().vec();
        outputShape.back() = weight.size(0);
        return widenedMatmul(x.contiguous().view({-1, k}), weight, bias).view(outputShape);
    }
    const at::Tensor input = x.contiguous();
    const std::int64_t k = weight.size(1);
    const std::int64_t n = weight.size(0);
    const std::int64_t rows = input.numel() / k;
    auto outputShape = x.sizes().vec();
    outputShape.back() = n;
    at::Tensor output = at::empty(outputShape, x.options());
    if (weight.scalar_type() == at::kBFloat16)
        gemvBf16(input.data_ptr<c10::BFloat16>(), rows, weight.data_ptr<c10::BFloat16>(), n, k,
                 bias.defined() ? bias.data_ptr<c10::BFloat16>() : nullptr,
                 output.data_ptr<c10::BFloat16>());
    else
        gemvFp32(input.data_ptr<float>(), rows, weight.data_ptr<float>(), n, k,
                 bias.defined() ? bias.data_ptr<float>() : nullptr, output.data_ptr<float>());
    return output;
}

at::Tensor rmsNorm(const at::Tensor &x, const at::Tensor &weight, double eps,
                   ComputeBackend backend)
{
    if (!isGeneric(x, backend) && rowKernelsApply(x, weight)
        && weight.scalar_type() == x.scalar_type())
        return rmsNormRows(x, weight, eps, /*scaled=*/false);
    const at::Tensor x32 = x.to(at::kFloat);
    const at::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
    return weight * (x32 * at::rsqrt(variance + eps)).to(x.scalar_type());
}

at::Tensor scaledRmsNorm(const at::Tensor &x, const at::Tensor &scale, double eps,
                         ComputeBackend backend)
{
    if (!isGeneric(x, backend) && rowKernelsApply(x, scale))
        return rmsNormRows(x, scale, eps, /*scaled=*/true);
    const at::Tensor x32 = x.to(at::kFloat);
    const at::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
    return (x32 * at::rsqrt(variance + eps) * scale).to(x.scalar_type());
}

at::Tensor gemmaNormScale(const at::Tensor &weight)
{
    return (weight.to(at::kFloat) + 1.0).contiguous();
}

at::Tensor applyRotary(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin,
                       ComputeBackend backend)
{
    if (!isGeneric(x, backend) && rowKernelsApply(x, cos) && x.dim() == 4 && x.stride(3) == 1
        && cos.scalar_type() == x.scalar_type() && sin.scalar_type() == x.scalar_type())
        return rotaryRows(x, cos, sin);
    const std::int64_t half = x.size(-1) / 2;
    const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    return x * cos + rotated * sin;
}

at::Tensor siluGate(const at::Tensor &gateUp, std::int64_t width, ComputeBackend backend)
{
    if (!isGeneric(gateUp, backend) && rowKernelsApply(gateUp, {}))
        return siluGateRows(gateUp, width);
    return at::silu(gateUp.narrow(-1, 0, width)) * gateUp.narrow(-1, width, width);
}

at::Tensor attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                     const at::Tensor &mask, double scale, const at::Tensor &bias, double softcap,
                     ComputeBackend backend)
{
    const bool generic = isGeneric(q, backend);
    if (!generic && q.size(2) <= kFusedAttentionMaxSteps && !q.requires_grad()
        && !k.requires_grad())
        return decodeAttention(q, k, v, mask, scale, bias, softcap);
#if COROLLA_HAS_SDPA
    if (generic && softcap <= 0.0 && !bias.defined())
        return fusedAttention(q, k, v, mask, scale);
#endif
    const std::int64_t batch = q.size(0), heads = q.size(1), steps = q.size(2), dim = q.size(3);
    const std::int64_t kvHeads = k.size(1), context = k.size(2);
    const std::int64_t group = heads / kvHeads;

    // Grouped-query attention without copying the cache: the `group` query heads that share
    // a key head are stacked along the row axis.
    const at::Tensor qGrouped = q.reshape({batch, kvHeads, group * steps, dim});
    at::Tensor scores = at::matmul(qGrouped, k.transpose(2, 3)) * scale; // [b, kv, g*T, S]
    scores = scores.view({batch, heads, steps, context}).to(at::kFloat);
    if (softcap > 0.0)
        scores = at::tanh(scores / softcap) * softcap;
    if (bias.defined())
        scores = scores + bias;
    scores = scores + mask;
    const at::Tensor probabilities = at::softmax(scores, -1).to(q.scalar_type());
    const at::Tensor out = at::matmul(probabilities.view({batch, kvHeads, group * steps, context}),
                                      v); // [b, kv, g*T, D]
    return out.view({batch, heads, steps, dim})
        .transpose(1, 2)
        .reshape({batch, steps, heads * dim});
}

RotaryEmbedding::RotaryEmbedding(const RopeConfig &rope, std::int64_t headDim)
{
    const at::Tensor exponents =
        at::arange(0, headDim, 2, at::kLong).to(at::kFloat) / double(headDim);
    at::Tensor invFreq = 1.0 / at::pow(at::full({}, rope.theta, at::kFloat), exponents);
    if (rope.scaling == RopeConfig::Scaling::Linear) {
        invFreq = invFreq / rope.factor;
    } else if (rope.scaling == RopeConfig::Scaling::Llama3) {
        // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, and the band
        // between them interpolated smoothly.
        const double oldContext = double(rope.originalMaxPositions);
        const double lowFreqWavelen = oldContext / rope.lowFreqFactor;
        const double highFreqWavelen = oldContext / rope.highFreqFactor;
        const at::Tensor wavelen = 2.0 * M_PI / invFreq;
        at::Tensor scaled = at::where(wavelen > lowFreqWavelen, invFreq / rope.factor, invFreq);
        const at::Tensor smooth = (oldContext / wavelen - rope.lowFreqFactor)
                                  / (rope.highFreqFactor - rope.lowFreqFactor);
        const at::Tensor smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
        const at::Tensor medium = (wavelen >= highFreqWavelen) & (wavelen <= lowFreqWavelen);
        invFreq = at::where(medium, smoothed, scaled);
    }
    m_invFreq = invFreq.contiguous();
}

void RotaryEmbedding::fill(StepContext &ctx, at::ScalarType dtype) const
{
    std::tie(ctx.rotaryCos, ctx.rotarySin) = tables(ctx.positions, dtype);
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::tables(const at::Tensor &positions,
                                                          at::ScalarType dtype) const
{
    const at::Tensor angles = positions.to(at::kFloat).unsqueeze(-1) * m_invFreq; // [b, T, D/2]
    const at::Tensor doubled = at::cat({angles, angles}, -1).unsqueeze(1);        // [b, 1, T, D]
    return {doubled.cos().to(dtype), doubled.sin().to(dtype)};
}

} // namespace corolla::ops
