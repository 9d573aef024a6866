#pragma once
// Attention for steps of a few tokens (decoding): one fused pass per head over the cache,
// in fp32, instead of a dozen small tensor operations whose overhead would dominate.
// Thread: any caller; it fans out over libtorch's intra-op thread pool.

#include <ATen/core/Tensor.h>

namespace corolla::ops {

// Same contract as ops::attention (see ops.h); any T works, but it pays off for T <= ~8.
at::Tensor decodeAttention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                           const at::Tensor &mask, double scale, const at::Tensor &bias,
                           double softcap = 0.0);

} // namespace corolla::ops
