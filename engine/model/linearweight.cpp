#include "model/linearweight.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/bitwise_and.h>
#include <ATen/ops/bitwise_right_shift.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/take.h>

#include "model/nf4pack.h"
#include "model/placement.h"
#include "model/quantkernels.h"

namespace corolla {

namespace {

// Rows per task when quantizing: enough work to be worth a thread hand-off.
constexpr std::int64_t kQuantizeGrain = 16;

// The checkpoint dtypes widened row by row without a tensor operation (which the packing
// threads must not run: they do not share the caller's inference mode); others are converted
// as a whole first.
bool isWidenable(at::ScalarType type)
{
    return type == at::kFloat || type == at::kBFloat16 || type == at::kHalf;
}

void widenRows(const at::Tensor &weight, std::int64_t begin, std::int64_t end, float *out)
{
    const std::int64_t in = weight.size(1), count = (end - begin) * in;
    switch (weight.scalar_type()) {
    case at::kBFloat16: {
        const c10::BFloat16 *values = weight.data_ptr<c10::BFloat16>() + begin * in;
        for (std::int64_t i = 0; i < count; ++i)
            out[i] = float(values[i]);
        return;
    }
    case at::kHalf: {
        const c10::Half *values = weight.data_ptr<c10::Half>() + begin * in;
        for (std::int64_t i = 0; i < count; ++i)
            out[i] = float(values[i]);
        return;
    }
    default: std::memcpy(out, weight.data_ptr<float>() + begin * in, std::size_t(count) * 4);
    }
}

void quantizeInt8Rows(const float *weights, std::int64_t in, std::int64_t begin, std::int64_t end,
                      std::int8_t *codes, float *scales)
{
    for (std::int64_t row = begin; row < end; ++row) {
        const float *values = weights + row * in;
        float absmax = 0.0f;
        for (std::int64_t j = 0; j < in; ++j)
            absmax = std::max(absmax, std::fabs(values[j]));
        const float scale = absmax / 127.0f;
        scales[row] = scale;
        std::int8_t *rowCodes = codes + row * in;
        for (std::int64_t j = 0; j < in; ++j) {
            // nearbyint rounds half to even in the default rounding mode.
            const float q = scale == 0.0f ? 0.0f : std::nearbyint(values[j] / scale);
            rowCodes[j] = std::int8_t(std::clamp(q, -127.0f, 127.0f));
        }
    }
}

std::string shapeText(std::int64_t out, std::int64_t in)
{
    return "[" + std::to_string(out) + ", " + std::to_string(in) + "]";
}

} // namespace

LinearWeight LinearWeight::dense(at::Tensor weight)
{
    LinearWeight result;
    if (weight.defined() && weight.dim() == 2) {
        result.m_out = weight.size(0);
        result.m_in = weight.size(1);
    }
    result.m_dense = std::move(weight);
    return result;
}

Result<LinearWeight> LinearWeight::quantize(const at::Tensor &weight, Quantization quantization,
                                            const std::string &name)
{
    if (quantization == Quantization::None || weight.dim() != 2)
        return makeError(ErrorCode::Internal, "cannot pack '" + name + "' as "
                                                  + std::string(quantizationName(quantization)));
    const std::int64_t out = weight.size(0), in = weight.size(1);
    if (quantization == Quantization::Nf4 && in % kNf4BlockSize != 0)
        return makeError(ErrorCode::Format,
                         "tensor '" + name + "' has shape " + shapeText(out, in)
                             + ": nf4 packs rows in blocks of 64 values, and " + std::to_string(in)
                             + " is not a multiple of 64 (int8 packs any width)");
    // Rows are widened to fp32 a few at a time, in the packing thread's own buffer: no
    // fp32 copy of the whole tensor.
    const at::Tensor source = isWidenable(weight.scalar_type())
                                  ? weight.contiguous()
                                  : weight.to(at::kFloat).contiguous();
    const bool int8 = quantization == Quantization::Int8;
    at::Tensor codes = at::empty(int8 ? at::IntArrayRef{out, in} : at::IntArrayRef{out, in / 2},
                                 int8 ? at::kChar : at::kByte);
    at::Tensor scales = at::empty(
        int8 ? at::IntArrayRef{out} : at::IntArrayRef{out, in / kNf4BlockSize}, at::kFloat);
    std::atomic<std::int64_t> nonFinite{-1};
    at::parallel_for(0, out, kQuantizeGrain, [&](std::int64_t first, std::int64_t last) {
        std::vector<float> rows(std::size_t(kQuantizeGrain * in));
        for (std::int64_t begin = first; begin < last; begin += kQuantizeGrain) {
            const std::int64_t end = std::min(last, begin + kQuantizeGrain);
            widenRows(source, begin, end, rows.data());
            for (std::int64_t i = 0; i < (end - begin) * in; ++i) {
                if (!std::isfinite(rows[std::size_t(i)])) {
                    nonFinite = begin * in + i;
                    return;
                }
            }
            if (int8)
                quantizeInt8Rows(rows.data(), in, 0, end - begin,
                                 codes.data_ptr<std::int8_t>() + begin * in,
                                 scales.data_ptr<float>() + begin);
            else
                quantizeNf4Blocks(rows.data(), (end - begin) * (in / kNf4BlockSize),
                                  codes.data_ptr<std::uint8_t>() + begin * (in / 2),
                                  scales.data_ptr<float>() + begin * (in / kNf4BlockSize));
        }
    });
    if (const std::int64_t at = nonFinite.load(); at >= 0)
        return makeError(ErrorCode::Format, "tensor '" + name + "' holds a non-finite value at row "
                                                + std::to_string(at / in) + ", column "
                                                + std::to_string(at % in)
                                                + "; it cannot be quantized");
    // An absmax is one of the weight's own values: from a bf16 checkpoint, every one is exact
    // in bf16 and is held in 2 bytes instead of 4 (4.25 bits per weight instead of 4.5).
    if (!int8) {
        const at::Tensor narrowed = scales.to(at::kBFloat16);
        if (at::equal(narrowed.to(at::kFloat), scales))
            scales = narrowed;
    }
    return packed(quantization, std::move(codes), std::move(scales), out, in);
}

Result<LinearWeight> LinearWeight::packed(Quantization quantization, at::Tensor codes,
                                          at::Tensor scales, std::int64_t out, std::int64_t in)
{
    const bool int8 = quantization == Quantization::Int8;
    const std::vector<std::int64_t> codeShape =
        int8 ? std::vector<std::int64_t>{out, in} : std::vector<std::int64_t>{out, in / 2};
    const std::vector<std::int64_t> scaleShape =
        int8 ? std::vector<std::int64_t>{out} : std::vector<std::int64_t>{out, in / kNf4BlockSize};
    const bool shapesFit =
        quantization != Quantization::None && out > 0 && in > 0 && (int8 || in % kNf4BlockSize == 0)
        && codes.defined() && scales.defined()
        && codes.scalar_type() == (int8 ? at::kChar : at::kByte) && codes.is_contiguous()
        && codes.sizes() == at::IntArrayRef(codeShape)
        && (scales.scalar_type() == at::kFloat || (!int8 && scales.scalar_type() == at::kBFloat16))
        && scales.is_contiguous() && scales.sizes() == at::IntArrayRef(scaleShape);
    if (!shapesFit)
        return makeError(ErrorCode::Format, "packed " + std::string(quantizationName(quantization))
                                                + " tensors do not fit a weight of shape "
                                                + shapeText(out, in));
    LinearWeight result;
    result.m_quantization = quantization;
    result.m_out = out;
    result.m_in = in;
    result.m_codes = std::move(codes);
    result.m_scales = std::move(scales);
    if (quantization == Quantization::Nf4)
        result.m_levels = toDevice(
            at::from_blob(const_cast<float *>(kNf4Levels.data()), {16}, at::kFloat).clone(),
            result.m_codes.device());
    return result;
}

LinearWeight LinearWeight::to(const c10::Device &device) const
{
    LinearWeight moved = *this;
    if (m_dense.defined())
        moved.m_dense = toDevice(m_dense, device);
    if (m_codes.defined()) {
        moved.m_codes = toDevice(m_codes, device);
        moved.m_scales = toDevice(m_scales, device);
    }
    if (m_levels.defined())
        moved.m_levels = toDevice(m_levels, device);
    return moved;
}

at::Tensor LinearWeight::dequantizeWithTensorOps(at::ScalarType dtype) const
{
    switch (m_quantization) {
    case Quantization::None: return m_dense.to(dtype);
    case Quantization::Int8: return (m_codes.to(at::kFloat) * m_scales.unsqueeze(1)).to(dtype);
    case Quantization::Nf4: {
        // Byte j of a 64-value block holds value j in its low nibble and value j + 32 in its
        // high one: the low nibbles of the block's 32 bytes, then the high ones, are its codes
        // in order.
        const std::int64_t blocks = m_in / kNf4BlockSize;
        const at::Tensor bytes = m_codes.view({m_out, blocks, kNf4BlockSize / 2});
        const at::Tensor codes =
            at::cat({at::bitwise_and(bytes, 15), at::bitwise_right_shift(bytes, 4)}, -1)
                .to(at::kLong); // [out, blocks, 64]
        const at::Tensor values = at::take(m_levels, codes) * m_scales.to(at::kFloat).unsqueeze(-1);
        return values.view({m_out, m_in}).to(dtype);
    }
    }
    return m_dense.to(dtype);
}

at::Tensor LinearWeight::dequantize(at::ScalarType dtype) const
{
    if (m_quantization == Quantization::None)
        return m_dense.to(dtype);
    if (!m_codes.is_cpu())
        return dequantizeWithTensorOps(dtype);
    at::Tensor result = at::empty({m_out, m_in}, dtype);
    const std::int64_t elementBytes = dtype == at::kBFloat16 ? 2 : 4;
    at::parallel_for(0, m_out, kQuantizeGrain, [&](std::int64_t begin, std::int64_t end) {
        dequantizeRows(begin, end, dtype,
                       static_cast<std::uint8_t *>(result.data_ptr())
                           + begin * m_in * elementBytes);
    });
    return result;
}

void LinearWeight::dequantizeRows(std::int64_t begin, std::int64_t end, at::ScalarType dtype,
                                  void *out) const
{
    dequantizePackedRows(packedView(), begin, end, dtype, out);
}

PackedView LinearWeight::packedView() const
{
    if (m_scales.scalar_type() == at::kBFloat16)
        return {m_quantization, m_codes.data_ptr(),
                nullptr,        m_out,
                m_in,           static_cast<const std::uint16_t *>(m_scales.data_ptr())};
    return {m_quantization, m_codes.data_ptr(), m_scales.data_ptr<float>(), m_out, m_in};
}

std::int64_t LinearWeight::bytes() const
{
    if (m_quantization == Quantization::None)
        return m_dense.defined() ? std::int64_t(m_dense.nbytes()) : 0;
    return std::int64_t(m_codes.nbytes() + m_scales.nbytes());
}

std::int64_t packedWeightBytes(Quantization quantization, std::int64_t out, std::int64_t in,
                               std::int64_t denseElementBytes, std::int64_t absmaxBytes)
{
    switch (quantization) {
    case Quantization::None: return out * in * denseElementBytes;
    case Quantization::Int8: return out * in + out * 4;
    case Quantization::Nf4: return out * in / 2 + out * (in / kNf4BlockSize) * absmaxBytes;
    }
    return out * in * denseElementBytes;
}

} // namespace corolla
