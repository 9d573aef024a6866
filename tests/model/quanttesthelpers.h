#pragma once
// Helpers of the packed-weight tests (testquantformat, testquantkernels).

#include <cstdint>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randn.h>

#include <QtGlobal>

#include "model/linearweight.h"

namespace corolla::quanttest {

// [rows, cols] fp32 values from N(0, 1), the same for the same seed.
inline at::Tensor randomMatrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed)
{
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randn({rows, cols}, generator, at::TensorOptions().dtype(at::kFloat));
}

// The weight packed, or the test stops with the quantizer's error.
inline LinearWeight quantized(const at::Tensor &weight, Quantization quantization)
{
    auto packed = LinearWeight::quantize(weight, quantization, "w");
    if (!packed)
        qFatal("%s", packed.error().message.c_str());
    return std::move(*packed);
}

// The largest |a − b| over all elements, in double.
inline double maxAbsDiff(const at::Tensor &a, const at::Tensor &b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

} // namespace corolla::quanttest
