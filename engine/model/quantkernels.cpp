#include "model/quantkernels.h"

// The AVX-512 and AVX2 kernels need GCC or Clang on x86-64 (target attributes, intrinsics).
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_PACKED_AVX512 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <vector>

#include <c10/util/BFloat16.h>

#include "model/kernelthreads.h"
#include "model/linearweight.h"

namespace corolla {

namespace {

float toFloat(const void *values, std::int64_t i, at::ScalarType dtype)
{
    return dtype == at::kBFloat16 ? float(static_cast<const c10::BFloat16 *>(values)[i])
                                  : static_cast<const float *>(values)[i];
}

// Rounds to nearest even, flushing subnormal values to zero as the AVX-512 bf16 instructions
// do, so that both paths give the same weights.
c10::BFloat16 toBf16(float value)
{
    return std::fpclassify(value) == FP_SUBNORMAL ? c10::BFloat16(std::copysign(0.0f, value))
                                                  : c10::BFloat16(value);
}

void store(void *values, std::int64_t i, float value, at::ScalarType dtype)
{
    if (dtype == at::kBFloat16)
        static_cast<c10::BFloat16 *>(values)[i] = toBf16(value);
    else
        static_cast<float *>(values)[i] = value;
}

// Row `row` of an int8 weight as integers, or of an nf4 weight as its values in `dtype`
// (widened back to float), into `out` [k].
void unpackRow(const PackedView &w, std::int64_t row, at::ScalarType dtype, float *out)
{
    if (w.quantization == Quantization::Int8) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * w.k;
        for (std::int64_t i = 0; i < w.k; ++i)
            out[i] = float(codes[i]);
        return;
    }
    const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (w.k / 2);
    const float *absmax = w.scales + row * (w.k / kNf4BlockSize);
    for (std::int64_t block = 0; block < w.k / kNf4BlockSize; ++block) {
        float *values = out + block * kNf4BlockSize;
        const std::uint8_t *bytes = codes + block * (kNf4BlockSize / 2);
        for (std::int64_t j = 0; j < kNf4BlockSize / 2; ++j) {
            values[j] = kNf4Levels[bytes[j] & 15] * absmax[block];
            values[j + kNf4BlockSize / 2] = kNf4Levels[bytes[j] >> 4] * absmax[block];
        }
    }
    if (dtype == at::kBFloat16) {
        for (std::int64_t i = 0; i < w.k; ++i)
            out[i] = float(toBf16(out[i]));
    }
}

#ifdef COROLLA_HAVE_PACKED_AVX512

#define COROLLA_PACKED_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

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

// Output rows [begin, end) for ROWS bf16 inputs, nf4 weights: per block, the bf16 table
// looks up 32 weights per permute and vdpbf16ps multiplies them pairwise into fp32 lanes.
template <int ROWS>
COROLLA_PACKED_TARGET void nf4RangeBf16(const PackedView &w, const std::uint16_t *x,
                                        const c10::BFloat16 *bias, c10::BFloat16 *y,
                                        std::int64_t begin, std::int64_t end)
{
    const std::int64_t k = w.k, blocks = k / kNf4BlockSize;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
        const float *absmax = w.scales + row * blocks;
        __m512 acc[ROWS][2];
        zeroAccumulators(acc);
        for (std::int64_t b = 0; b < blocks; ++b) {
            const __m512i table = nf4TableBf16(absmax[b]);
            const __m512i index = _mm512_cvtepu8_epi16(
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(codes + b * 32)));
            const __m512bh low = (__m512bh)_mm512_permutexvar_epi16(index, table);
            const __m512bh high =
                (__m512bh)_mm512_permutexvar_epi16(_mm512_srli_epi16(index, 4), table);
#pragma GCC unroll 8
            for (int r = 0; r < ROWS; ++r) {
                const std::uint16_t *input = x + r * k + b * kNf4BlockSize;
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], low, (__m512bh)_mm512_loadu_si512(input));
                acc[r][1] =
                    _mm512_dpbf16_ps(acc[r][1], high, (__m512bh)_mm512_loadu_si512(input + 32));
            }
        }
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
    const std::int64_t k = w.k, blocks = k / kNf4BlockSize;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
        const float *absmax = w.scales + row * blocks;
        __m512 acc[ROWS][kAcc];
        zeroAccumulators(acc);
        for (std::int64_t b = 0; b < blocks; ++b) {
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

// Output rows [begin, end) for ROWS bf16 inputs, int8 weights: the integer codes are exact in
// bf16, so vdpbf16ps forms exact products; the row's scale multiplies the sum.
template <int ROWS>
COROLLA_PACKED_TARGET void int8RangeBf16(const PackedView &w, const std::uint16_t *x,
                                         const c10::BFloat16 *bias, c10::BFloat16 *y,
                                         std::int64_t begin, std::int64_t end)
{
    const std::int64_t k = w.k, mainEnd = k - k % 32;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        __m512 acc[ROWS][2];
        zeroAccumulators(acc);
        std::int64_t i = 0;
        for (; i + 64 <= mainEnd; i += 64) {
            const __m512bh first =
                _mm512_cvtne2ps_pbh(int8Quarter(codes + i + 16), int8Quarter(codes + i));
            const __m512bh second =
                _mm512_cvtne2ps_pbh(int8Quarter(codes + i + 48), int8Quarter(codes + i + 32));
#pragma GCC unroll 8
            for (int r = 0; r < ROWS; ++r) {
                const std::uint16_t *input = x + r * k + i;
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], first, (__m512bh)_mm512_loadu_si512(input));
                acc[r][1] =
                    _mm512_dpbf16_ps(acc[r][1], second, (__m512bh)_mm512_loadu_si512(input + 32));
            }
        }
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
    for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t offset = (row - begin) * k;
        if (w.quantization == Quantization::Nf4) {
            const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
            const float *absmax = w.scales + row * (k / kNf4BlockSize);
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

#define COROLLA_PACKED_AVX2_TARGET __attribute__((target("avx2,fma")))

// Eight int8 codes as fp32.
COROLLA_PACKED_AVX2_TARGET inline __m256 int8Eighth(const std::int8_t *codes)
{
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(codes));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}

// fp32 values rounded to bf16 (nearest even; subnormal values flushed to signed zero, as
// toBf16), still as fp32.
COROLLA_PACKED_AVX2_TARGET inline __m256 roundToBf16(__m256 values)
{
    const __m256i bits = _mm256_castps_si256(values);
    const __m256i lowestKept = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_and_si256(
        _mm256_add_epi32(bits, _mm256_add_epi32(lowestKept, _mm256_set1_epi32(0x7fff))),
        _mm256_set1_epi32(static_cast<int>(0xffff0000u)));
    const __m256i subnormal = _mm256_cmpeq_epi32(
        _mm256_and_si256(bits, _mm256_set1_epi32(0x7f800000)), _mm256_setzero_si256());
    const __m256i sign = _mm256_and_si256(bits, _mm256_set1_epi32(static_cast<int>(0x80000000u)));
    return _mm256_castsi256_ps(_mm256_blendv_epi8(rounded, sign, subnormal));
}

// Eight bf16-exact fp32 values stored as bf16 (their high halves).
COROLLA_PACKED_AVX2_TARGET inline void storeBf16(std::uint16_t *target, __m256 values)
{
    const __m256i high = _mm256_srli_epi32(_mm256_castps_si256(values), 16);
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(target),
        _mm_packus_epi32(_mm256_castsi256_si128(high), _mm256_extracti128_si256(high, 1)));
}

// One block's NF4 table: levels 0-7 and 8-15 times its absmax, rounded to bf16 for bf16
// inputs (the values unpackRow gives).
struct Nf4Table {
    __m256 low, high;
};

COROLLA_PACKED_AVX2_TARGET inline Nf4Table nf4TableAvx2(float absmax, bool bf16)
{
    const __m256 scale = _mm256_set1_ps(absmax);
    Nf4Table table{_mm256_mul_ps(_mm256_loadu_ps(kNf4Levels.data()), scale),
                   _mm256_mul_ps(_mm256_loadu_ps(kNf4Levels.data() + 8), scale)};
    if (bf16) {
        table.low = roundToBf16(table.low);
        table.high = roundToBf16(table.high);
    }
    return table;
}

// The values of eight codes: vpermps reads index bits 0-2, and `select` holds bit 3 of each
// code in its sign bit, which picks the high half of the table.
COROLLA_PACKED_AVX2_TARGET inline __m256 nf4Lookup(const Nf4Table &table, __m256i index,
                                                   __m256i select)
{
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(table.low, index),
                            _mm256_permutevar8x32_ps(table.high, index),
                            _mm256_castsi256_ps(select));
}

// Values 8g..8g+7 (low nibbles of bytes 8g..8g+7) and 32+8g..32+8g+7 (their high nibbles) of
// a block of 64.
COROLLA_PACKED_AVX2_TARGET inline void nf4Eighths(const Nf4Table &table, const std::uint8_t *bytes,
                                                  __m256 &low, __m256 &high)
{
    const __m256i codes =
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(bytes)));
    low = nf4Lookup(table, codes, _mm256_slli_epi32(codes, 28));
    high = nf4Lookup(table, _mm256_srli_epi32(codes, 4), _mm256_slli_epi32(codes, 24));
}

COROLLA_PACKED_AVX2_TARGET inline float sumLanesAvx2(__m256 v)
{
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
}

// Output rows [begin, end) for ROWS fp32 inputs (bf16 inputs widened exactly) on AVX2, with
// the products of the AVX-512 kernels: nf4 weights from the block's table (bf16-rounded for
// bf16 inputs, so the products are exact), int8 codes times the row's scale for fp32 inputs,
// and for bf16 inputs exact integer products whose sum the scale multiplies.
template <int ROWS>
COROLLA_PACKED_AVX2_TARGET void packedRangeAvx2(const PackedView &w, const float *x, bool bf16,
                                                float *sums, std::int64_t begin, std::int64_t end)
{
    const std::int64_t k = w.k;
    for (std::int64_t row = begin; row < end; ++row) {
        __m256 acc[ROWS][2];
        for (int r = 0; r < ROWS; ++r)
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        float tails[ROWS] = {};
        float sumScale = 1.0f;
        if (w.quantization == Quantization::Nf4) {
            const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
            const float *absmax = w.scales + row * (k / kNf4BlockSize);
            for (std::int64_t b = 0; b < k / kNf4BlockSize; ++b) {
                const Nf4Table table = nf4TableAvx2(absmax[b], bf16);
#pragma GCC unroll 4
                for (int g = 0; g < 4; ++g) {
                    __m256 low, high;
                    nf4Eighths(table, codes + b * 32 + 8 * g, low, high);
#pragma GCC unroll 8
                    for (int r = 0; r < ROWS; ++r) {
                        const float *input = x + r * k + b * kNf4BlockSize + 8 * g;
                        acc[r][0] = _mm256_fmadd_ps(low, _mm256_loadu_ps(input), acc[r][0]);
                        acc[r][1] = _mm256_fmadd_ps(high, _mm256_loadu_ps(input + 32), acc[r][1]);
                    }
                }
            }
        } else {
            const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
            const float scale = w.scales[row];
            // fp32 inputs meet the dequantized weights; bf16 ones the codes, scaled at the end.
            const __m256 weightScale = _mm256_set1_ps(bf16 ? 1.0f : scale);
            sumScale = bf16 ? scale : 1.0f;
            std::int64_t i = 0;
            for (; i + 16 <= k; i += 16) {
                const __m256 first = _mm256_mul_ps(int8Eighth(codes + i), weightScale);
                const __m256 second = _mm256_mul_ps(int8Eighth(codes + i + 8), weightScale);
#pragma GCC unroll 8
                for (int r = 0; r < ROWS; ++r) {
                    acc[r][0] = _mm256_fmadd_ps(first, _mm256_loadu_ps(x + r * k + i), acc[r][0]);
                    acc[r][1] =
                        _mm256_fmadd_ps(second, _mm256_loadu_ps(x + r * k + i + 8), acc[r][1]);
                }
            }
            const float tailScale = bf16 ? 1.0f : scale;
            for (; i < k; ++i) {
                const float weight = float(codes[i]) * tailScale;
                for (int r = 0; r < ROWS; ++r)
                    tails[r] += weight * x[r * k + i];
            }
        }
        for (int r = 0; r < ROWS; ++r)
            sums[r * w.n + row] =
                (sumLanesAvx2(_mm256_add_ps(acc[r][0], acc[r][1])) + tails[r]) * sumScale;
    }
}

template <int ROWS> void gemvAvx2Rows(const PackedView &w, const float *x, bool bf16, float *sums)
{
    const std::int64_t rowBytes = w.quantization == Quantization::Int8 ? w.k : w.k / 2;
    parallelRows(w.n, rowBytes, [&](std::int64_t begin, std::int64_t end) {
        packedRangeAvx2<ROWS>(w, x, bf16, sums, begin, end);
    });
}

// Eight values into `out` at `offset`: fp32, or rounded to bf16.
COROLLA_PACKED_AVX2_TARGET inline void storeValues(void *out, std::int64_t offset, __m256 values,
                                                   bool bf16)
{
    if (bf16)
        storeBf16(static_cast<std::uint16_t *>(out) + offset, roundToBf16(values));
    else
        _mm256_storeu_ps(static_cast<float *>(out) + offset, values);
}

COROLLA_PACKED_AVX2_TARGET void dequantizeAvx2(const PackedView &w, std::int64_t begin,
                                               std::int64_t end, at::ScalarType dtype, void *out)
{
    const std::int64_t k = w.k;
    const bool bf16 = dtype == at::kBFloat16;
    for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t offset = (row - begin) * k;
        if (w.quantization == Quantization::Nf4) {
            const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
            const float *absmax = w.scales + row * (k / kNf4BlockSize);
            for (std::int64_t b = 0; b < k / kNf4BlockSize; ++b) {
                const Nf4Table table = nf4TableAvx2(absmax[b], false);
                for (int g = 0; g < 4; ++g) {
                    __m256 low, high;
                    nf4Eighths(table, codes + b * 32 + 8 * g, low, high);
                    storeValues(out, offset + b * kNf4BlockSize + 8 * g, low, bf16);
                    storeValues(out, offset + b * kNf4BlockSize + 32 + 8 * g, high, bf16);
                }
            }
            continue;
        }
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        const float scale = w.scales[row];
        std::int64_t i = 0;
        for (; i + 8 <= k; i += 8)
            storeValues(out, offset + i,
                        _mm256_mul_ps(int8Eighth(codes + i), _mm256_set1_ps(scale)), bf16);
        for (; i < k; ++i)
            store(out, offset + i, float(codes[i]) * scale, dtype);
    }
}

#endif

} // namespace

// The portable product: one unpacked weight row at a time against every input row.
void gemvPackedPortable(const PackedView &w, const void *x, std::int64_t rows, const void *bias,
                        void *y, at::ScalarType dtype)
{
    std::vector<float> inputs(std::size_t(rows * w.k));
    for (std::int64_t i = 0; i < rows * w.k; ++i)
        inputs[std::size_t(i)] = toFloat(x, i, dtype);
    const std::int64_t rowBytes = w.quantization == Quantization::Int8 ? w.k : w.k / 2;
    parallelKernel(w.n, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(1, rowBytes)),
                   [&](std::int64_t begin, std::int64_t end) {
                       std::vector<float> weights(std::size_t(w.k));
                       for (std::int64_t row = begin; row < end; ++row) {
                           unpackRow(w, row, dtype, weights.data());
                           // int8 with fp32 activations multiplies the dequantized weights;
                           // with bf16 ones the row scale multiplies the sum of the exact
                           // integer products, as the AVX-512 kernels do.
                           const bool int8 = w.quantization == Quantization::Int8;
                           const float scale = int8 ? w.scales[row] : 1.0f;
                           if (int8 && dtype == at::kFloat) {
                               for (float &weight : weights)
                                   weight *= scale;
                           }
                           const float sumScale = int8 && dtype != at::kFloat ? scale : 1.0f;
                           for (std::int64_t r = 0; r < rows; ++r) {
                               const float *input = inputs.data() + r * w.k;
                               float sum = 0;
                               for (std::int64_t i = 0; i < w.k; ++i)
                                   sum += weights[std::size_t(i)] * input[i];
                               sum *= sumScale;
                               if (bias)
                                   sum += toFloat(bias, row, dtype);
                               store(y, r * w.n + row, sum, dtype);
                           }
                       }
                   });
}

void dequantizePackedRowsPortable(const PackedView &w, std::int64_t begin, std::int64_t end,
                                  at::ScalarType dtype, void *out)
{
    std::vector<float> values(std::size_t(w.k));
    for (std::int64_t row = begin; row < end; ++row) {
        unpackRow(w, row, at::kFloat, values.data());
        const float scale = w.quantization == Quantization::Int8 ? w.scales[row] : 1.0f;
        for (std::int64_t i = 0; i < w.k; ++i)
            store(out, (row - begin) * w.k + i, values[std::size_t(i)] * scale, dtype);
    }
}

bool hasPackedAvx2()
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return supported;
#else
    return false;
#endif
}

void gemvPackedAvx2(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                    void *y, at::ScalarType dtype)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    // The inputs widened once, and the sums in fp32 until the bias and the output's rounding.
    const std::int64_t count = rows * weight.k;
    std::vector<float> inputs(static_cast<std::size_t>(count));
    std::vector<float> sums(static_cast<std::size_t>(rows * weight.n));
    for (std::int64_t i = 0; i < count; ++i)
        inputs[std::size_t(i)] = toFloat(x, i, dtype);
    const bool bf16 = dtype == at::kBFloat16;
    switch (rows) {
    case 1: gemvAvx2Rows<1>(weight, inputs.data(), bf16, sums.data()); break;
    case 2: gemvAvx2Rows<2>(weight, inputs.data(), bf16, sums.data()); break;
    case 3: gemvAvx2Rows<3>(weight, inputs.data(), bf16, sums.data()); break;
    default:
        // Four inputs at a time keep the accumulators in registers.
        for (std::int64_t first = 0; first < rows; first += 4) {
            const std::int64_t group = std::min<std::int64_t>(4, rows - first);
            const float *input = inputs.data() + first * weight.k;
            float *sum = sums.data() + first * weight.n;
            switch (group) {
            case 1: gemvAvx2Rows<1>(weight, input, bf16, sum); break;
            case 2: gemvAvx2Rows<2>(weight, input, bf16, sum); break;
            case 3: gemvAvx2Rows<3>(weight, input, bf16, sum); break;
            default: gemvAvx2Rows<4>(weight, input, bf16, sum); break;
            }
        }
        break;
    }
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t j = 0; j < weight.n; ++j) {
            float value = sums[std::size_t(r * weight.n + j)];
            if (bias)
                value += toFloat(bias, j, dtype);
            if (bf16)
                static_cast<c10::BFloat16 *>(y)[r * weight.n + j] = c10::BFloat16(value);
            else
                static_cast<float *>(y)[r * weight.n + j] = value;
        }
    }
#else
    gemvPackedPortable(weight, x, rows, bias, y, dtype);
#endif
}

void dequantizePackedRowsAvx2(const PackedView &weight, std::int64_t begin, std::int64_t end,
                              at::ScalarType dtype, void *out)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    dequantizeAvx2(weight, begin, end, dtype, out);
#else
    dequantizePackedRowsPortable(weight, begin, end, dtype, out);
#endif
}

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

void gemvPacked(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                void *y, at::ScalarType dtype)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    if (hasPackedAvx512()) {
        switch (rows) {
        case 1: gemvAvx512Rows<1>(weight, x, bias, y, dtype); return;
        case 2: gemvAvx512Rows<2>(weight, x, bias, y, dtype); return;
        case 3: gemvAvx512Rows<3>(weight, x, bias, y, dtype); return;
        case 4: gemvAvx512Rows<4>(weight, x, bias, y, dtype); return;
        case 5: gemvAvx512Rows<5>(weight, x, bias, y, dtype); return;
        case 6: gemvAvx512Rows<6>(weight, x, bias, y, dtype); return;
        case 7: gemvAvx512Rows<7>(weight, x, bias, y, dtype); return;
        default: gemvAvx512Rows<8>(weight, x, bias, y, dtype); return;
        }
    }
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
        return dequantizeAvx2(weight, begin, end, dtype, out);
#endif
    dequantizePackedRowsPortable(weight, begin, end, dtype, out);
}

} // namespace corolla
