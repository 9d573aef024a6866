#include "model/quantkernels.h"

// The AVX-512 kernels need GCC or Clang on x86-64 (target attributes, intrinsics); the AVX2
// ones are in quantkernelsavx2.cpp, the portable ones in quantkernelsportable.cpp.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_PACKED_AVX512 1
#include <immintrin.h>

#include "model/packeddot.h"
#endif

#include <algorithm>

#include <c10/util/BFloat16.h>

#include "model/kernelthreads.h"
#include "model/linearweight.h"
#include "model/packedvalues.h"

namespace corolla {

using packed::nf4AbsmaxBytes;
using packed::nf4RowAbsmax;
using packed::nf4StoredAbsmax;

namespace {

#ifdef COROLLA_HAVE_PACKED_AVX512

#define COROLLA_PACKED_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Packed rows are read this far ahead of the loop with prefetch instructions: measured on a
// 2-core AMD EPYC VM, out of cache, the NF4 product streamed 31-33 GB/s on the hardware prefetcher
// alone and 36-39 GB/s (as fast as the bf16 product) with software prefetch 2-8 KiB ahead;
// the decode loop's lookups and dot products otherwise leave too few reads in flight.
constexpr std::int64_t kPrefetchBytes = 4096;

COROLLA_PACKED_TARGET inline void prefetchAhead(const void *address, std::int64_t bytes)
{
    _mm_prefetch(static_cast<const char *>(address) + bytes, _MM_HINT_T0);
}

// NF4 level table for one block: the 16 levels times its absmax, in fp32 lanes 0-15.
COROLLA_PACKED_TARGET inline __m512 nf4Table(float absmax)
{
    return _mm512_mul_ps(_mm512_loadu_ps(kNf4Levels.data()), _mm512_set1_ps(absmax));
}

// The same table rounded to bf16 twice over: words 0-15 and 16-31 both hold it, so that a
// word index of which only bits 0-3 are the code (bit 4 belongs to the other nibble) finds it.
COROLLA_PACKED_TARGET inline __m512i nf4TableBf16(float absmax)
{
    const __m512 table = nf4Table(absmax);
    return (__m512i)_mm512_cvtne2ps_pbh(table, table);
}

// 16 int8 codes from `codes`, the first `count` of them (the rest zero), as fp32.
COROLLA_PACKED_TARGET inline __m512 int8Quarter(const std::int8_t *codes, std::int64_t count = 16)
{
    const __m128i bytes = count >= 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i *>(codes))
                                      : _mm_maskz_loadu_epi8(__mmask16((1u << count) - 1), codes);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes));
}

// ROWS x ACC accumulators set to zero, and the sum of the lanes of one row's accumulators.
template <int ROWS, int ACC>
COROLLA_PACKED_TARGET inline void zeroAccumulators(__m512 (&acc)[ROWS][ACC])
{
    for (int r = 0; r < ROWS; ++r) {
        for (int a = 0; a < ACC; ++a)
            acc[r][a] = _mm512_setzero_ps();
    }
}

template <int ACC> COROLLA_PACKED_TARGET inline float sumLanes(const __m512 (&acc)[ACC])
{
    __m512 sum = acc[0];
    for (int a = 1; a < ACC; ++a)
        sum = _mm512_add_ps(sum, acc[a]);
    return _mm512_reduce_add_ps(sum);
}

// One nf4 block of 64 weights against ROWS bf16 inputs into the accumulator pair `acc[r][0]`,
// `acc[r][1]`: the bf16 table looks up 32 weights per permute and vdpbf16ps multiplies them
// pairwise into fp32 lanes.
template <int ROWS, int ACC>
COROLLA_PACKED_TARGET inline void nf4BlockBf16(const std::uint8_t *codes, float absmax,
                                               const std::uint16_t *x, std::int64_t k,
                                               __m512 (&acc)[ROWS][ACC], int pair)
{
    const __m512i table = nf4TableBf16(absmax);
    const __m512i index =
        _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(codes)));
    const __m512bh low = (__m512bh)_mm512_permutexvar_epi16(index, table);
    const __m512bh high = (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(index, 4), table);
    packed::accumulatePair(acc, pair, low, high, x, k);
}

// Output rows [begin, end) for ROWS bf16 inputs, nf4 weights. A vdpbf16ps waits for the one
// before it on the same accumulator, so with few input rows the loop takes two blocks at a
// time into four accumulators per row: otherwise that latency, not memory, sets the speed.
template <int ROWS>
COROLLA_PACKED_TARGET void nf4RangeBf16(const PackedView &w, const std::uint16_t *x,
                                        const c10::BFloat16 *bias, c10::BFloat16 *y,
                                        std::int64_t begin, std::int64_t end)
{
    constexpr int kStride = ROWS <= 2 ? 2 : 1;
    const std::int64_t k = w.k, blocks = k / kNf4BlockSize, absmaxBytes = nf4AbsmaxBytes(w);
    packed::Nf4AbsmaxBuffer widened(w);
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
        const char *storedAbsmax = nf4StoredAbsmax(w, row);
        const float *absmax = nf4RowAbsmax(w, row, widened.data());
        __m512 acc[ROWS][2 * kStride];
        zeroAccumulators(acc);
        std::int64_t b = 0;
        for (; b + kStride <= blocks; b += kStride) {
            // 64 bytes of codes (a cache line) per two blocks; scales as far ahead in blocks.
            if (b % 2 == 0)
                prefetchAhead(codes + b * 32, kPrefetchBytes);
            if (b % 16 == 0)
                prefetchAhead(storedAbsmax + b * absmaxBytes, kPrefetchBytes / 32 * absmaxBytes);
#pragma GCC unroll 2
            for (int s = 0; s < kStride; ++s)
                nf4BlockBf16(codes + (b + s) * 32, absmax[b + s], x + (b + s) * kNf4BlockSize, k,
                             acc, 2 * s);
        }
        for (; b < blocks; ++b)
            nf4BlockBf16(codes + b * 32, absmax[b], x + b * kNf4BlockSize, k, acc, 0);
        for (int r = 0; r < ROWS; ++r) {
            float value = sumLanes(acc[r]);
            if (bias)
                value += float(bias[row]);
            y[r * w.n + row] = c10::BFloat16(value);
        }
    }
}

// The same for fp32 inputs: the fp32 table, 16 weights per permute, fused multiply-adds.
template <int ROWS>
COROLLA_PACKED_TARGET void nf4RangeFp32(const PackedView &w, const float *x, const float *bias,
                                        float *y, std::int64_t begin, std::int64_t end)
{
    constexpr int kAcc = ROWS <= 2 ? 2 : 1;
    const std::int64_t k = w.k, blocks = k / kNf4BlockSize, absmaxBytes = nf4AbsmaxBytes(w);
    packed::Nf4AbsmaxBuffer widened(w);
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
        const char *storedAbsmax = nf4StoredAbsmax(w, row);
        const float *absmax = nf4RowAbsmax(w, row, widened.data());
        __m512 acc[ROWS][kAcc];
        zeroAccumulators(acc);
        for (std::int64_t b = 0; b < blocks; ++b) {
            if (b % 2 == 0)
                prefetchAhead(codes + b * 32, kPrefetchBytes);
            if (b % 16 == 0)
                prefetchAhead(storedAbsmax + b * absmaxBytes, kPrefetchBytes / 32 * absmaxBytes);
            const __m512 table = nf4Table(absmax[b]);
            const __m512i first = _mm512_cvtepu8_epi32(
                _mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + b * 32)));
            const __m512i second = _mm512_cvtepu8_epi32(
                _mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + b * 32 + 16)));
            // vpermps reads index bits 0-3: the low nibble; shifted, the high one.
            const __m512 weights[4] = {
                _mm512_permutexvar_ps(first, table),
                _mm512_permutexvar_ps(second, table),
                _mm512_permutexvar_ps(_mm512_srli_epi32(first, 4), table),
                _mm512_permutexvar_ps(_mm512_srli_epi32(second, 4), table),
            };
#pragma GCC unroll 8
            for (int r = 0; r < ROWS; ++r) {
                const float *input = x + r * k + b * kNf4BlockSize;
#pragma GCC unroll 4
                for (int q = 0; q < 4; ++q)
                    acc[r][q % kAcc] = _mm512_fmadd_ps(weights[q], _mm512_loadu_ps(input + 16 * q),
                                                       acc[r][q % kAcc]);
            }
        }
        for (int r = 0; r < ROWS; ++r)
            y[r * w.n + row] = sumLanes(acc[r]) + (bias ? bias[row] : 0.0f);
    }
}

// 64 int8 weights against ROWS bf16 inputs into the accumulator pair `acc[r][pair]`,
// `acc[r][pair + 1]`: the integer codes are exact in bf16, so vdpbf16ps forms exact products.
template <int ROWS, int ACC>
COROLLA_PACKED_TARGET inline void int8ChunkBf16(const std::int8_t *codes, const std::uint16_t *x,
                                                std::int64_t k, __m512 (&acc)[ROWS][ACC], int pair)
{
    const __m512bh first = _mm512_cvtne2ps_pbh(int8Quarter(codes + 16), int8Quarter(codes));
    const __m512bh second = _mm512_cvtne2ps_pbh(int8Quarter(codes + 48), int8Quarter(codes + 32));
    packed::accumulatePair(acc, pair, first, second, x, k);
}

// Output rows [begin, end) for ROWS bf16 inputs, int8 weights; the row's scale multiplies the
// sum. As for nf4, few input rows take two chunks at a time into four accumulators per row.
template <int ROWS>
COROLLA_PACKED_TARGET void int8RangeBf16(const PackedView &w, const std::uint16_t *x,
                                         const c10::BFloat16 *bias, c10::BFloat16 *y,
                                         std::int64_t begin, std::int64_t end)
{
    constexpr int kStride = ROWS <= 2 ? 2 : 1;
    const std::int64_t k = w.k, mainEnd = k - k % 32;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        __m512 acc[ROWS][2 * kStride];
        zeroAccumulators(acc);
        std::int64_t i = 0;
        for (; i + 64 * kStride <= mainEnd; i += 64 * kStride) {
#pragma GCC unroll 2
            for (int s = 0; s < kStride; ++s) {
                prefetchAhead(codes + i + 64 * s, kPrefetchBytes);
                int8ChunkBf16(codes + i + 64 * s, x + i + 64 * s, k, acc, 2 * s);
            }
        }
        for (; i + 64 <= mainEnd; i += 64)
            int8ChunkBf16(codes + i, x + i, k, acc, 0);
        for (; i < k; i += 32) {
            const std::int64_t count = std::min<std::int64_t>(32, k - i);
            const std::int64_t firstCount = std::min<std::int64_t>(16, count);
            const __m512 high =
                count > 16 ? int8Quarter(codes + i + 16, count - 16) : _mm512_setzero_ps();
            const __m512bh weights = _mm512_cvtne2ps_pbh(high, int8Quarter(codes + i, firstCount));
            const __mmask32 mask = count >= 32 ? __mmask32(~0u) : __mmask32((1u << count) - 1);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] = _mm512_dpbf16_ps(
                    acc[r][0], weights, (__m512bh)_mm512_maskz_loadu_epi16(mask, x + r * k + i));
        }
        for (int r = 0; r < ROWS; ++r) {
            float value = sumLanes(acc[r]) * w.scales[row];
            if (bias)
                value += float(bias[row]);
            y[r * w.n + row] = c10::BFloat16(value);
        }
    }
}

// The same for fp32 inputs with fused multiply-adds, on exactly the dequantized weights: each
// code times the row's scale, one fp32 multiplication, as the format defines them.
template <int ROWS>
COROLLA_PACKED_TARGET void int8RangeFp32(const PackedView &w, const float *x, const float *bias,
                                         float *y, std::int64_t begin, std::int64_t end)
{
    constexpr int kAcc = ROWS <= 2 ? 2 : 1;
    const std::int64_t k = w.k;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        const __m512 scale = _mm512_set1_ps(w.scales[row]);
        __m512 acc[ROWS][kAcc];
        zeroAccumulators(acc);
        std::int64_t i = 0;
        for (; i + 32 <= k; i += 32) {
            if (i % 64 == 0)
                prefetchAhead(codes + i, kPrefetchBytes);
            const __m512 first = _mm512_mul_ps(int8Quarter(codes + i), scale);
            const __m512 second = _mm512_mul_ps(int8Quarter(codes + i + 16), scale);
#pragma GCC unroll 8
            for (int r = 0; r < ROWS; ++r) {
                acc[r][0] = _mm512_fmadd_ps(first, _mm512_loadu_ps(x + r * k + i), acc[r][0]);
                acc[r][kAcc - 1] =
                    _mm512_fmadd_ps(second, _mm512_loadu_ps(x + r * k + i + 16), acc[r][kAcc - 1]);
            }
        }
        for (; i < k; i += 16) {
            const std::int64_t count = std::min<std::int64_t>(16, k - i);
            const __mmask16 mask = __mmask16((1u << count) - 1);
            const __m512 weights = _mm512_mul_ps(int8Quarter(codes + i, count), scale);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] =
                    _mm512_fmadd_ps(weights, _mm512_maskz_loadu_ps(mask, x + r * k + i), acc[r][0]);
        }
        for (int r = 0; r < ROWS; ++r)
            y[r * w.n + row] = sumLanes(acc[r]) + (bias ? bias[row] : 0.0f);
    }
}

template <int ROWS>
void gemvAvx512Rows(const PackedView &w, const void *x, const void *bias, void *y,
                    at::ScalarType dtype)
{
    const std::int64_t rowBytes = w.quantization == Quantization::Int8 ? w.k : w.k / 2;
    parallelRows(w.n, rowBytes, [&](std::int64_t begin, std::int64_t end) {
        const bool bf16 = dtype == at::kBFloat16;
        const auto *x16 = static_cast<const std::uint16_t *>(x);
        const auto *bias16 = static_cast<const c10::BFloat16 *>(bias);
        auto *y16 = static_cast<c10::BFloat16 *>(y);
        const auto *x32 = static_cast<const float *>(x);
        const auto *bias32 = static_cast<const float *>(bias);
        auto *y32 = static_cast<float *>(y);
        if (w.quantization == Quantization::Nf4) {
            if (bf16)
                nf4RangeBf16<ROWS>(w, x16, bias16, y16, begin, end);
            else
                nf4RangeFp32<ROWS>(w, x32, bias32, y32, begin, end);
        } else {
            if (bf16)
                int8RangeBf16<ROWS>(w, x16, bias16, y16, begin, end);
            else
                int8RangeFp32<ROWS>(w, x32, bias32, y32, begin, end);
        }
    });
}

COROLLA_PACKED_TARGET void dequantizeAvx512(const PackedView &w, std::int64_t begin,
                                            std::int64_t end, at::ScalarType dtype, void *out)
{
    const std::int64_t k = w.k;
    const bool bf16 = dtype == at::kBFloat16;
    packed::Nf4AbsmaxBuffer widened(w);
    for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t offset = (row - begin) * k;
        if (w.quantization == Quantization::Nf4) {
            const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
            const float *absmax = nf4RowAbsmax(w, row, widened.data());
            for (std::int64_t b = 0; b < k / kNf4BlockSize; ++b) {
                if (bf16) {
                    auto *target = static_cast<std::uint16_t *>(out) + offset + b * 64;
                    const __m512i table = nf4TableBf16(absmax[b]);
                    const __m512i index = _mm512_cvtepu8_epi16(
                        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(codes + b * 32)));
                    _mm512_storeu_si512(target, _mm512_permutexvar_epi16(index, table));
                    _mm512_storeu_si512(
                        target + 32, _mm512_permutexvar_epi16(_mm512_srli_epi16(index, 4), table));
                } else {
                    float *target = static_cast<float *>(out) + offset + b * 64;
                    const __m512 table = nf4Table(absmax[b]);
                    for (int half = 0; half < 2; ++half) {
                        const __m512i index = _mm512_cvtepu8_epi32(_mm_loadu_si128(
                            reinterpret_cast<const __m128i *>(codes + b * 32 + 16 * half)));
                        _mm512_storeu_ps(target + 16 * half, _mm512_permutexvar_ps(index, table));
                        _mm512_storeu_ps(target + 32 + 16 * half,
                                         _mm512_permutexvar_ps(_mm512_srli_epi32(index, 4), table));
                    }
                }
            }
            continue;
        }
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        const __m512 scale = _mm512_set1_ps(w.scales[row]);
        for (std::int64_t i = 0; i < k; i += 16) {
            const std::int64_t count = std::min<std::int64_t>(16, k - i);
            const __mmask16 mask = __mmask16((1u << count) - 1);
            const __m512 values = _mm512_mul_ps(int8Quarter(codes + i, count), scale);
            if (bf16)
                _mm256_mask_storeu_epi16(static_cast<std::uint16_t *>(out) + offset + i, mask,
                                         (__m256i)_mm512_cvtneps_pbh(values));
            else
                _mm512_mask_storeu_ps(static_cast<float *>(out) + offset + i, mask, values);
        }
    }
}

#endif

} // namespace

bool hasPackedAvx512()
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
               && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    }();
    return supported;
#else
    return false;
#endif
}

void gemvPackedAvx512(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                      void *y, at::ScalarType dtype)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    switch (rows) {
    case 1: return gemvAvx512Rows<1>(weight, x, bias, y, dtype);
    case 2: return gemvAvx512Rows<2>(weight, x, bias, y, dtype);
    case 3: return gemvAvx512Rows<3>(weight, x, bias, y, dtype);
    case 4: return gemvAvx512Rows<4>(weight, x, bias, y, dtype);
    case 5: return gemvAvx512Rows<5>(weight, x, bias, y, dtype);
    case 6: return gemvAvx512Rows<6>(weight, x, bias, y, dtype);
    case 7: return gemvAvx512Rows<7>(weight, x, bias, y, dtype);
    default: return gemvAvx512Rows<8>(weight, x, bias, y, dtype);
    }
#else
    gemvPackedPortable(weight, x, rows, bias, y, dtype);
#endif
}

void gemvPacked(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                void *y, at::ScalarType dtype)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    if (weight.quantization == Quantization::Int8 && dtype == at::kBFloat16 && hasPackedVbmi())
        return gemvPackedInt8Vbmi(weight, static_cast<const c10::BFloat16 *>(x), rows,
                                  static_cast<const c10::BFloat16 *>(bias),
                                  static_cast<c10::BFloat16 *>(y));
    if (hasPackedAvx512())
        return gemvPackedAvx512(weight, x, rows, bias, y, dtype);
    if (hasPackedAvx2())
        return gemvPackedAvx2(weight, x, rows, bias, y, dtype);
#endif
    gemvPackedPortable(weight, x, rows, bias, y, dtype);
}

void dequantizePackedRows(const PackedView &weight, std::int64_t begin, std::int64_t end,
                          at::ScalarType dtype, void *out)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    if (hasPackedAvx512())
        return dequantizeAvx512(weight, begin, end, dtype, out);
    if (hasPackedAvx2())
        return dequantizePackedRowsAvx2(weight, begin, end, dtype, out);
#endif
    dequantizePackedRowsPortable(weight, begin, end, dtype, out);
}

} // namespace corolla
