#include "model/gemvbf16.h"

// The kernels need GCC or Clang on x86-64 (target attributes, AVX-512 and AVX2 intrinsics);
// elsewhere hasBf16Gemv() is false and products go to at::linear.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_BF16_KERNEL 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

#include "model/kernelthreads.h"

namespace corolla {

#ifdef COROLLA_HAVE_BF16_KERNEL

#define COROLLA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace {

// Output rows [begin, end) for ROWS input vectors. Each weight row is one sequential stream
// (which the hardware prefetcher follows best); each 512-bit load holds 32 bf16 values that
// vdpbf16ps multiplies pairwise into 16 fp32 lanes. ACC accumulators per input break the
// dependency chain of the adds.
template <int ROWS, int ACC>
COROLLA_BF16_TARGET void gemvRange(const std::uint16_t *x, const std::uint16_t *w, std::int64_t n,
                                   std::int64_t k, const c10::BFloat16 *bias, c10::BFloat16 *y,
                                   std::int64_t begin, std::int64_t end)
{
    constexpr std::int64_t kStep = 32 * ACC;
    const std::int64_t mainEnd = k - k % kStep;
    for (std::int64_t row = begin; row < end; ++row) {
        const std::uint16_t *weights = w + row * k;
        __m512 acc[ROWS][ACC];
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; ++r) {
#pragma GCC unroll 8
            for (int a = 0; a < ACC; ++a)
                acc[r][a] = _mm512_setzero_ps();
        }
        for (std::int64_t i = 0; i < mainEnd; i += kStep) {
#pragma GCC unroll 8
            for (int a = 0; a < ACC; ++a) {
                const __m512bh wv = (__m512bh)_mm512_loadu_si512(weights + i + 32 * a);
#pragma GCC unroll 8
                for (int r = 0; r < ROWS; ++r) {
                    const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + r * k + i + 32 * a);
                    acc[r][a] = _mm512_dpbf16_ps(acc[r][a], wv, xv);
                }
            }
        }
        for (std::int64_t i = mainEnd; i < k; i += 32) {
            const std::int64_t remaining = k - i;
            const __mmask32 mask =
                remaining >= 32 ? __mmask32(~0u) : __mmask32((1u << remaining) - 1);
            const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(mask, weights + i);
            for (int r = 0; r < ROWS; ++r) {
                const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + r * k + i);
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], wv, xv);
            }
        }
        for (int r = 0; r < ROWS; ++r) {
            __m512 sum = acc[r][0];
            for (int a = 1; a < ACC; ++a)
                sum = _mm512_add_ps(sum, acc[r][a]);
            float value = _mm512_reduce_add_ps(sum);
            if (bias)
                value += float(bias[row]);
            y[r * n + row] = c10::BFloat16(value); // round to nearest even
        }
    }
}

template <int ROWS, int ACC>
void gemvRows(const c10::BFloat16 *x, const c10::BFloat16 *w, std::int64_t n, std::int64_t k,
              const c10::BFloat16 *bias, c10::BFloat16 *y)
{
    const auto *x16 = reinterpret_cast<const std::uint16_t *>(x);
    const auto *w16 = reinterpret_cast<const std::uint16_t *>(w);
    parallelRows(n, k * 2, [&](std::int64_t begin, std::int64_t end) {
        gemvRange<ROWS, ACC>(x16, w16, n, k, bias, y, begin, end);
    });
}

#define COROLLA_FP32_TARGET __attribute__((target("avx512f")))

// The fp32 counterpart of gemvRange: 16 floats per load, one FMA per load and input.
template <int ROWS, int ACC>
COROLLA_FP32_TARGET void gemvRangeFp32(const float *x, const float *w, std::int64_t n,
                                       std::int64_t k, const float *bias, float *y,
                                       std::int64_t begin, std::int64_t end)
{
    constexpr std::int64_t kStep = 16 * ACC;
    const std::int64_t mainEnd = k - k % kStep;
    for (std::int64_t row = begin; row < end; ++row) {
        const float *weights = w + row * k;
        __m512 acc[ROWS][ACC];
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; ++r) {
#pragma GCC unroll 8
            for (int a = 0; a < ACC; ++a)
                acc[r][a] = _mm512_setzero_ps();
        }
        for (std::int64_t i = 0; i < mainEnd; i += kStep) {
#pragma GCC unroll 8
            for (int a = 0; a < ACC; ++a) {
                const __m512 wv = _mm512_loadu_ps(weights + i + 16 * a);
#pragma GCC unroll 8
                for (int r = 0; r < ROWS; ++r)
                    acc[r][a] =
                        _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + r * k + i + 16 * a), acc[r][a]);
            }
        }
        for (std::int64_t i = mainEnd; i < k; i += 16) {
            const std::int64_t remaining = k - i;
            const __mmask16 mask =
                remaining >= 16 ? __mmask16(0xffff) : __mmask16((1u << remaining) - 1);
            const __m512 wv = _mm512_maskz_loadu_ps(mask, weights + i);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] =
                    _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mask, x + r * k + i), acc[r][0]);
        }
        for (int r = 0; r < ROWS; ++r) {
            __m512 sum = acc[r][0];
            for (int a = 1; a < ACC; ++a)
                sum = _mm512_add_ps(sum, acc[r][a]);
            y[r * n + row] = _mm512_reduce_add_ps(sum) + (bias ? bias[row] : 0.0f);
        }
    }
}

template <int ROWS, int ACC>
void gemvRowsFp32(const float *x, const float *w, std::int64_t n, std::int64_t k, const float *bias,
                  float *y)
{
    parallelRows(n, k * 4, [&](std::int64_t begin, std::int64_t end) {
        gemvRangeFp32<ROWS, ACC>(x, w, n, k, bias, y, begin, end);
    });
}

#define COROLLA_AVX2_TARGET __attribute__((target("avx2,fma")))

// Eight weights widened to fp32: a bf16 value is the high half of its fp32 value.
COROLLA_AVX2_TARGET inline __m256 loadWeights(const std::uint16_t *w)
{
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i *>(w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

COROLLA_AVX2_TARGET inline __m256 loadWeights(const float *w)
{
    return _mm256_loadu_ps(w);
}

inline float widen(std::uint16_t value)
{
    return c10::BFloat16(value, c10::BFloat16::from_bits());
}

inline float widen(float value)
{
    return value;
}

COROLLA_AVX2_TARGET inline float sumLanes(__m256 v)
{
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
}

// Output rows [begin, end) for ROWS fp32 inputs against bf16 (uint16_t) or fp32 weights on
// AVX2: eight weights per load widened to fp32, one fused multiply-add per load and input
// (bf16 products are exact in fp32, as with vdpbf16ps), ACC accumulators per input. OUT is
// the output type.
template <int ROWS, int ACC, typename Weight, typename Out>
COROLLA_AVX2_TARGET void gemvRangeAvx2(const float *x, const Weight *w, std::int64_t n,
                                       std::int64_t k, const Out *bias, Out *y, std::int64_t begin,
                                       std::int64_t end)
{
    constexpr std::int64_t kStep = 8 * ACC;
    const std::int64_t mainEnd = k - k % kStep, vectorEnd = k - k % 8;
    for (std::int64_t row = begin; row < end; ++row) {
        const Weight *weights = w + row * k;
        __m256 acc[ROWS][ACC];
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; ++r) {
#pragma GCC unroll 8
            for (int a = 0; a < ACC; ++a)
                acc[r][a] = _mm256_setzero_ps();
        }
        for (std::int64_t i = 0; i < mainEnd; i += kStep) {
#pragma GCC unroll 8
            for (int a = 0; a < ACC; ++a) {
                const __m256 wv = loadWeights(weights + i + 8 * a);
#pragma GCC unroll 8
                for (int r = 0; r < ROWS; ++r)
                    acc[r][a] =
                        _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * k + i + 8 * a), acc[r][a]);
            }
        }
        for (std::int64_t i = mainEnd; i < vectorEnd; i += 8) {
            const __m256 wv = loadWeights(weights + i);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + r * k + i), acc[r][0]);
        }
        for (int r = 0; r < ROWS; ++r) {
            __m256 sum = acc[r][0];
            for (int a = 1; a < ACC; ++a)
                sum = _mm256_add_ps(sum, acc[r][a]);
            float value = sumLanes(sum);
            for (std::int64_t i = vectorEnd; i < k; ++i)
                value += widen(weights[i]) * x[r * k + i];
            if (bias)
                value += float(bias[row]);
            y[r * n + row] = Out(value); // bf16: round to nearest even
        }
    }
}

template <int ROWS, int ACC, typename Weight, typename Out>
void gemvRowsAvx2(const float *x, const Weight *w, std::int64_t n, std::int64_t k, const Out *bias,
                  Out *y)
{
    parallelRows(n, k * std::int64_t(sizeof(Weight)), [&](std::int64_t begin, std::int64_t end) {
        gemvRangeAvx2<ROWS, ACC>(x, w, n, k, bias, y, begin, end);
    });
}

template <typename Weight, typename Out>
void gemvAvx2(const float *x, std::int64_t rows, const Weight *w, std::int64_t n, std::int64_t k,
              const Out *bias, Out *y)
{
    switch (rows) {
    case 1: gemvRowsAvx2<1, 4>(x, w, n, k, bias, y); break;
    case 2: gemvRowsAvx2<2, 2>(x, w, n, k, bias, y); break;
    case 3: gemvRowsAvx2<3, 2>(x, w, n, k, bias, y); break;
    default: gemvRowsAvx2<4, 2>(x, w, n, k, bias, y); break;
    }
}

bool hasAvx512Fp32()
{
    static const bool supported = [] {
        __builtin_cpu_init();
        return bool(__builtin_cpu_supports("avx512f"));
    }();
    return supported;
}

bool hasAvx512Bf16()
{
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
               && __builtin_cpu_supports("avx512bf16");
    }();
    return supported;
}

} // namespace

bool hasAvx2Gemv()
{
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return supported;
}

void gemvBf16Avx2(const c10::BFloat16 *x, std::int64_t rows, const c10::BFloat16 *w, std::int64_t n,
                  std::int64_t k, const c10::BFloat16 *bias, c10::BFloat16 *y)
{
    // The inputs widened once, not once per output row.
    std::vector<float> inputs(std::size_t(rows * k));
    for (std::int64_t i = 0; i < rows * k; ++i)
        inputs[std::size_t(i)] = float(x[i]);
    gemvAvx2(inputs.data(), rows, reinterpret_cast<const std::uint16_t *>(w), n, k, bias, y);
}

void gemvFp32Avx2(const float *x, std::int64_t rows, const float *w, std::int64_t n, std::int64_t k,
                  const float *bias, float *y)
{
    gemvAvx2(x, rows, w, n, k, bias, y);
}

bool hasFp32Gemv()
{
    return hasAvx512Fp32() || hasAvx2Gemv();
}

void gemvFp32(const float *x, std::int64_t rows, const float *w, std::int64_t n, std::int64_t k,
              const float *bias, float *y)
{
    if (!hasAvx512Fp32())
        return gemvFp32Avx2(x, rows, w, n, k, bias, y);
    switch (rows) {
    case 1: gemvRowsFp32<1, 4>(x, w, n, k, bias, y); break;
    case 2: gemvRowsFp32<2, 2>(x, w, n, k, bias, y); break;
    case 3: gemvRowsFp32<3, 1>(x, w, n, k, bias, y); break;
    default: gemvRowsFp32<4, 1>(x, w, n, k, bias, y); break;
    }
}

bool hasBf16Gemv()
{
    return hasAvx512Bf16() || hasAvx2Gemv();
}

bool hasNativeBf16()
{
    return hasAvx512Bf16();
}

void gemvBf16(const c10::BFloat16 *x, std::int64_t rows, const c10::BFloat16 *w, std::int64_t n,
              std::int64_t k, const c10::BFloat16 *bias, c10::BFloat16 *y)
{
    if (!hasAvx512Bf16())
        return gemvBf16Avx2(x, rows, w, n, k, bias, y);
    // Accumulator counts chosen by measurement on Zen 4: enough independent sums to hide the
    // dot-product latency, fewer when several inputs already share each weight load.
    switch (rows) {
    case 1: gemvRows<1, 4>(x, w, n, k, bias, y); break;
    case 2: gemvRows<2, 2>(x, w, n, k, bias, y); break;
    case 3: gemvRows<3, 1>(x, w, n, k, bias, y); break;
    default: gemvRows<4, 1>(x, w, n, k, bias, y); break;
    }
}

#else

bool hasAvx2Gemv()
{
    return false;
}

void gemvBf16Avx2(const c10::BFloat16 *, std::int64_t, const c10::BFloat16 *, std::int64_t,
                  std::int64_t, const c10::BFloat16 *, c10::BFloat16 *)
{
}

void gemvFp32Avx2(const float *, std::int64_t, const float *, std::int64_t, std::int64_t,
                  const float *, float *)
{
}

bool hasBf16Gemv()
{
    return false;
}

bool hasNativeBf16()
{
    return false;
}

bool hasFp32Gemv()
{
    return false;
}

void gemvFp32(const float *, std::int64_t, const float *, std::int64_t, std::int64_t, const float *,
              float *)
{
}

void gemvBf16(const c10::BFloat16 *, std::int64_t, const c10::BFloat16 *, std::int64_t,
              std::int64_t, const c10::BFloat16 *, c10::BFloat16 *)
{
}

#endif

} // namespace corolla
