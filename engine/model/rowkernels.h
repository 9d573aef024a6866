#pragma once
// The element-wise steps between a block's products — RMS normalisation, rotary embedding,
// the gated SiLU — as single loops over contiguous CPU rows. Through libtorch each of them is
// three to eight operations, each dispatched, allocated and written out; at one token per step
// that dispatch, not arithmetic, is what they cost, and against the few milliseconds a packed
// block's products take per token it is most of a step's time outside them.
//
// Each loop rounds where the tensor operations in ops.cpp round (to the compute dtype after
// every operation the reference performs in it), so both give the same values up to the order
// of the fp32 sum of squares and the SiLU noted below. Every row of a step, decode or
// prefill, runs through the same loop, so a KV-cached decode equals the full forward exactly.
// Thread: any caller; the rows of a call spread over the kernel pool (kernelthreads.h), a
// single row (a decode step) stays on the calling thread.

#include <ATen/core/Tensor.h>

namespace corolla {

// Whether the loops below take these tensors: all on the CPU, fp32 or bf16 alike, none that
// needs a gradient (fine-tuning keeps libtorch's autograd).
bool rowKernelsApply(const at::Tensor &x, const at::Tensor &other);

// rmsNorm (ops.h): weight * round(x / sqrt(mean(x^2) + eps)), normalised in fp32. With
// `scaled`, Gemma's form: round(x / sqrt(mean(x^2) + eps) * scale), `scale` fp32.
at::Tensor rmsNormRows(const at::Tensor &x, const at::Tensor &weight, double eps, bool scaled);

// applyRotary (ops.h): x [b, h, T, D] with unit stride along D, cos and sin [b, 1, T, D] in x's
// dtype. Returns a contiguous [b, h, T, D].
at::Tensor rotaryRows(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin);

// silu(gateUp[..., :width]) * gateUp[..., width:2 width]: SiLU computed in fp32 and rounded to
// the dtype once, then the product rounded, as PyTorch 2 does in bf16 (libtorch 1.13's bf16
// SiLU rounds after each of its steps and lands up to an ulp further from the exact value).
// gateUp [..., 2 width]. Returns [..., width], contiguous.
at::Tensor siluGateRows(const at::Tensor &gateUp, std::int64_t width);

} // namespace corolla
