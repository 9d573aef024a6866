#pragma once
// A projection weight [out, in] as a block holds it: dense in the compute dtype, or packed by
// one of the quantizations of core/compute.h. docs/quantization.md states the formats; in short:
//
// - int8: codes int8 [out, in], q = clamp(round_half_even(W / scale_r), -127, 127), and
//   scales fp32 [out], scale_r = max_j |W_rj| / 127. Dequantized: q * scale_r.
// - nf4: 64 consecutive values of a row form a block with absmax_b = max |W| (fp32 [out, in/64]);
//   each value's code is the nearest of the 16 NF4 levels to W / absmax_b (ties to the lower
//   level). Codes uint8 [out, in/2]: block b of row r takes the 32 bytes from 32 b, and byte j
//   holds the code of value j in its low nibble and of value j + 32 in its high nibble.
//   Dequantized: level[code] * absmax_b. An absmax is one of the weight's values, so when
//   every absmax of a weight is exact in bf16 (always, from a bf16 checkpoint) they are held
//   as bf16 [out, in/64]: the same values in half the bytes.
//
// Quantization starts from the checkpoint's values widened to fp32; every product above is one
// fp32 multiplication. Dequantized into bf16, a weight is that fp32 value rounded to nearest
// even, subnormal values flushed to zero (as the processor's bf16 instructions do).
// Thread: const methods may run on any thread.

#include <array>
#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/compute.h"
#include "core/result.h"
#include "model/quantkernels.h"

namespace corolla {

// The 16 NF4 levels, ascending.
inline constexpr std::array<float, 16> kNf4Levels = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};
// Values per NF4 block, and so the multiple that `in` must be.
inline constexpr std::int64_t kNf4BlockSize = 64;

class LinearWeight {
public:
    LinearWeight() = default;

    // The weight as it is, unpacked (it is expected in the compute dtype already).
    static LinearWeight dense(at::Tensor weight);
    // `weight` [out, in] (any floating dtype) packed as `quantization`, which must not be None,
    // in ordinary memory.
    // Errors name `name`: a non-finite value, or (nf4) an `in` that is no multiple of 64.
    static Result<LinearWeight> quantize(const at::Tensor &weight, Quantization quantization,
                                         const std::string &name);
    // Packed tensors as described above (from a cache of packed blocks, say); their shapes and
    // dtypes are checked against `out` and `in`.
    static Result<LinearWeight> packed(Quantization quantization, at::Tensor codes,
                                       at::Tensor scales, std::int64_t out, std::int64_t in);

    bool defined() const { return m_dense.defined() || m_codes.defined(); }
    Quantization quantization() const { return m_quantization; }
    std::int64_t outFeatures() const { return m_out; }
    std::int64_t inFeatures() const { return m_in; }

    // The dense weight (quantization() == None).
    const at::Tensor &denseWeight() const { return m_dense; }
    // The packed codes and scales (quantization() != None): scales fp32, or nf4 absmax in bf16.
    const at::Tensor &codes() const { return m_codes; }
    const at::Tensor &scales() const { return m_scales; }

    // The packed weight for the kernels (quantization() != None).
    PackedView packedView() const;
    // The weight [out, in] in `dtype` (fp32 or bf16) on the weight's device: the dequantized
    // values for packed ones.
    at::Tensor dequantize(at::ScalarType dtype) const;
    // The same made with libtorch tensor operations only, on any device: what the generic
    // backend multiplies (a temporary per product, so that the weight stays packed).
    at::Tensor dequantizeWithTensorOps(at::ScalarType dtype) const;
    // This weight on `device` (itself when it is there already).
    LinearWeight to(const c10::Device &device) const;
    // Rows [begin, end) dequantized into `out`, a contiguous fp32 or bf16 buffer of
    // (end - begin) * in values (packed weights only).
    void dequantizeRows(std::int64_t begin, std::int64_t end, at::ScalarType dtype,
                        void *out) const;

    // Bytes held in memory: the dense tensor, or codes and scales.
    std::int64_t bytes() const;

private:
    Quantization m_quantization = Quantization::None;
    std::int64_t m_out = 0, m_in = 0;
    at::Tensor m_dense;
    at::Tensor m_codes, m_scales;
    at::Tensor m_levels; // nf4: kNf4Levels as fp32 [16] on the codes' device
};

// Bytes that a weight [out, in] takes packed as `quantization` (codes and scales, nf4 absmax
// `absmaxBytes` each: 4, or 2 when held in bf16), or in `denseElementBytes` per value unpacked.
std::int64_t packedWeightBytes(Quantization quantization, std::int64_t out, std::int64_t in,
                               std::int64_t denseElementBytes, std::int64_t absmaxBytes = 4);

} // namespace corolla
