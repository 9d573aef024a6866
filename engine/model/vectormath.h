#pragma once
// Vector math for the engine's AVX-512 loops (rowkernels.cpp, decodeattention.cpp), compiled
// per function with target attributes so that the rest of a file stays portable: the caller
// checks hasVectorMathAvx512() before it calls any of these.
// Thread: any.

#include <cstdint>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_VECTOR_MATH 1
#include <immintrin.h>
#endif

namespace corolla::vecmath {

#ifdef COROLLA_HAVE_VECTOR_MATH

#define COROLLA_VECTOR_MATH_TARGET __attribute__((target("avx512f")))

inline bool hasVectorMathAvx512()
{
    static const bool supported = [] {
        __builtin_cpu_init();
        return bool(__builtin_cpu_supports("avx512f"));
    }();
    return supported;
}

// e^x to about 2 ulp: x = n ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts, so that n ln 2
// is exact), e^r by its Taylor series to r^7 (truncation below 1e-8 relative), times 2^n by
// vscalefps. x is first clamped to [-104, 89], where e^x is already 0 and infinity in fp32, so
// that the infinities give 0 and infinity; NaN stays NaN.
COROLLA_VECTOR_MATH_TARGET inline __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x); // NaN passes: vmaxps returns its second source
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// values[i] = e^(values[i] - shift) for i < count; returns their sum. -infinity gives 0.
COROLLA_VECTOR_MATH_TARGET inline float expShiftedSum(float *values, std::int64_t count,
                                                      float shift)
{
    const __m512 offset = _mm512_set1_ps(shift);
    __m512 sum = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < count; i += 16) {
        const __mmask16 mask =
            count - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (count - i)) - 1);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, values + i), offset));
        _mm512_mask_storeu_ps(values + i, mask, e);
        sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(mask, e));
    }
    return _mm512_reduce_add_ps(sum);
}

#else

inline bool hasVectorMathAvx512()
{
    return false;
}

#endif

} // namespace corolla::vecmath
