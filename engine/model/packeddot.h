#pragma once
// The inner step that the AVX-512 packed-weight products with bf16 inputs share
// (quantkernels.cpp, quantkernelsvbmi.cpp): weights already widened to bf16 against every
// input row. x86-64 with GCC or Clang only.
// Thread: any; pure functions.

#include <cstdint>

#include <immintrin.h>

namespace corolla::packed {

// 64 bf16 weights, `first` (weights 0-31) and `second` (32-63), against ROWS inputs of 64
// values each, `stride` apart from `x`, into acc[r][pair] and acc[r][pair + 1]: vdpbf16ps
// multiplies pairs of values exactly and adds them in fp32.
template <int ROWS, int ACC>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline void
accumulatePair(__m512 (&acc)[ROWS][ACC], int pair, __m512bh first, __m512bh second,
               const std::uint16_t *x, std::int64_t stride)
{
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) {
        const std::uint16_t *input = x + r * stride;
        acc[r][pair] = _mm512_dpbf16_ps(acc[r][pair], first, (__m512bh)_mm512_loadu_si512(input));
        acc[r][pair + 1] =
            _mm512_dpbf16_ps(acc[r][pair + 1], second, (__m512bh)_mm512_loadu_si512(input + 32));
    }
}

} // namespace corolla::packed
