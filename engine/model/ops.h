#pragma once
// The numerical building blocks shared by the block architectures, with Hugging Face's
// dtype conventions (norms and softmax in fp32, products in the compute dtype).
// Thread: any.

#include <utility>

#include <ATen/core/Tensor.h>

#include "core/compute.h"
#include "model/linearweight.h"
#include "model/modelconfig.h"
#include "model/stepcontext.h"

namespace corolla::ops {

// Products with at most this many rows are weight-bandwidth-bound: our kernel's territory.
inline constexpr std::int64_t kGemvMaxRows = 4;

// Every function below takes the backend (core/compute.h): Generic, or any tensor off the CPU,
// computes with libtorch tensor operations only; Native may use the hand-written CPU kernels.

// y = x W^T + b. Natively, products of one to four rows (decoding) use our AVX-512 kernels for
// bf16 and fp32 when the processor has them: they are memory-bound, and libtorch's small-batch
// paths are not. Everything else goes to at::linear.
at::Tensor linear(const at::Tensor &x, const at::Tensor &weight, const at::Tensor &bias = {},
                  ComputeBackend backend = ComputeBackend::Native);

// y = x W^T + b for a block's projection, dense (as above) or packed. Natively, products of at
// most kPackedGemvMaxRows rows read the packed bytes (quantkernels.h); longer ones dequantize
// tiles of rows into the compute dtype for the GEMM; with autograd, the whole weight is
// dequantized. Generic: the weight is dequantized with tensor operations for each product.
at::Tensor linear(const at::Tensor &x, const LinearWeight &weight, const at::Tensor &bias = {},
                  ComputeBackend backend = ComputeBackend::Native);

// weight * (x / sqrt(mean(x^2) + eps)), the normalisation computed in fp32. Natively on the
// CPU without autograd, this and the three below run as single loops (rowkernels.h).
at::Tensor rmsNorm(const at::Tensor &x, const at::Tensor &weight, double eps,
                   ComputeBackend backend);

// x / sqrt(mean(x^2) + eps) * scale, all in fp32, rounded to x's dtype once: Gemma's RMSNorm,
// whose checkpoints store scale - 1 (gemmaNormScale() makes the fp32 scale from it).
at::Tensor scaledRmsNorm(const at::Tensor &x, const at::Tensor &scale, double eps,
                         ComputeBackend backend);
at::Tensor gemmaNormScale(const at::Tensor &weight);

// x * cos + rotate_half(x) * sin, the rotate-half convention of Hugging Face checkpoints.
// x [batch, heads, T, headDim]; cos, sin [batch, 1, T, headDim].
at::Tensor applyRotary(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin,
                       ComputeBackend backend);

// silu(gateUp[..., :width]) * gateUp[..., width:], the gated MLP's activation.
at::Tensor siluGate(const at::Tensor &gateUp, std::int64_t width, ComputeBackend backend);

// Scaled dot-product attention over the visible cache.
// q [batch, nHeads, T, headDim]; k, v [batch, nKvHeads, S, headDim] (grouped-query when
// nKvHeads < nHeads); mask [batch, 1, T, S] additive fp32; bias [1 or batch, nHeads, 1, S]
// additive fp32 or undefined; softcap > 0 bends each scaled score s to
// softcap * tanh(s / softcap) before bias and mask. Returns [batch, T, nHeads * headDim].
// Natively, short steps take the fused decode loop (decodeattention.h); generic attention is
// at::scaled_dot_product_attention where libtorch has it and the scores need no soft-cap or
// bias, and matmul + softmax otherwise.
at::Tensor attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                     const at::Tensor &mask, double scale, const at::Tensor &bias = {},
                     double softcap = 0.0, ComputeBackend backend = ComputeBackend::Native);

// Rotary frequencies of a Llama-family model, with linear or llama3 scaling applied.
class RotaryEmbedding {
public:
    RotaryEmbedding(const RopeConfig &rope, std::int64_t headDim);

    // Fills ctx.rotaryCos / ctx.rotarySin for ctx.positions, in `dtype`.
    void fill(StepContext &ctx, at::ScalarType dtype) const;
    // The same tables for `positions` [batch, T]: cos, sin [batch, 1, T, headDim].
    std::pair<at::Tensor, at::Tensor> tables(const at::Tensor &positions,
                                             at::ScalarType dtype) const;

private:
    at::Tensor m_invFreq; // [headDim / 2] fp32
};

} // namespace corolla::ops
