#pragma once
// Reading and writing the fp32 or bf16 values the packed-weight kernels take and give, the
// same way on every instruction-set path.
// Thread: any.

#include <cmath>
#include <cstdint>

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>

namespace corolla::packed {

inline float toFloat(const void *values, std::int64_t i, at::ScalarType dtype)
{
    return dtype == at::kBFloat16 ? float(static_cast<const c10::BFloat16 *>(values)[i])
                                  : static_cast<const float *>(values)[i];
}

// Rounds to nearest even, flushing subnormal values to zero as the AVX-512 bf16 instructions
// do, so that both paths give the same weights.
inline c10::BFloat16 toBf16(float value)
{
    return std::fpclassify(value) == FP_SUBNORMAL ? c10::BFloat16(std::copysign(0.0f, value))
                                                  : c10::BFloat16(value);
}

inline void store(void *values, std::int64_t i, float value, at::ScalarType dtype)
{
    if (dtype == at::kBFloat16)
        static_cast<c10::BFloat16 *>(values)[i] = toBf16(value);
    else
        static_cast<float *>(values)[i] = value;
}

} // namespace corolla::packed
