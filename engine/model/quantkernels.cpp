#include "model/quantkernels.h"

// The AVX-512 kernels need GCC or Clang on x86-64 (target attributes, intrinsics).
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
        for (int r = 0; r < ROWS; ++r)
            acc[r][0] = acc[r][1] = _mm512_setzero_ps();
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
            float value = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));
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
        for (int r = 0; r < ROWS; ++r) {
            for (int a = 0; a < kAcc; ++a)
                acc[r][a] = _mm512_setzero_ps();
        }
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
        for (int r = 0; r < ROWS; ++r) {
            __m512 sum = acc[r][0];
            for (int a = 1; a < kAcc; ++a)
                sum = _mm512_add_ps(sum, acc[r][a]);
            y[r * w.n + row] = _mm512_reduce_add_ps(sum) + (bias ? bias[row] : 0.0f);
        }
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
        for (int r = 0; r < ROWS; ++r)
            acc[r][0] = acc[r][1] = _mm512_setzero_ps();
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
            float value = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1])) * w.scales[row];
            if (bias)
                value += float(bias[row]);
            y[r * w.n + row] = c10::BFloat16(value);
        }
    }
}

// The same for fp32 inputs with fused multiply-adds.
template <int ROWS>
COROLLA_PACKED_TARGET void int8RangeFp32(const PackedView &w, const float *x, const float *bias,
                                         float *y, std::int64_t begin, std::int64_t end)
{
    constexpr int kAcc = ROWS <= 2 ? 2 : 1;
    const std::int64_t k = w.k;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        __m512 acc[ROWS][kAcc];
        for (int r = 0; r < ROWS; ++r) {
            for (int a = 0; a < kAcc; ++a)
                acc[r][a] = _mm512_setzero_ps();
        }
        std::int64_t i = 0;
        for (; i + 32 <= k; i += 32) {
            const __m512 first = int8Quarter(codes + i), second = int8Quarter(codes + i + 16);
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
            const __m512 weights = int8Quarter(codes + i, count);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] =
                    _mm512_fmadd_ps(weights, _mm512_maskz_loadu_ps(mask, x + r * k + i), acc[r][0]);
        }
        for (int r = 0; r < ROWS; ++r) {
            __m512 sum = acc[r][0];
            for (int a = 1; a < kAcc; ++a)
                sum = _mm512_add_ps(sum, acc[r][a]);
            y[r * w.n + row] =
                _mm512_reduce_add_ps(sum) * w.scales[row] + (bias ? bias[row] : 0.0f);
        }
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

// |quotient - level[index]| lane by lane.
COROLLA_PACKED_TARGET inline __m512 nf4Distance(__m512 quotient, __m512i index, __m512 levels)
{
    return _mm512_abs_ps(_mm512_sub_ps(quotient, _mm512_permutexvar_ps(index, levels)));
}

// NF4 codes of 16 quotients: a binary search over the 15 midpoints between the levels gives
// the candidate; its neighbours are then compared by fp32 distance (ties to the lower index),
// as the portable nearestNf4Level does.
COROLLA_PACKED_TARGET inline __m512i nf4Codes(__m512 quotient)
{
    alignas(64) static const float midpoints[16] = {
        0.5f * (kNf4Levels[0] + kNf4Levels[1]),   0.5f * (kNf4Levels[1] + kNf4Levels[2]),
        0.5f * (kNf4Levels[2] + kNf4Levels[3]),   0.5f * (kNf4Levels[3] + kNf4Levels[4]),
        0.5f * (kNf4Levels[4] + kNf4Levels[5]),   0.5f * (kNf4Levels[5] + kNf4Levels[6]),
        0.5f * (kNf4Levels[6] + kNf4Levels[7]),   0.5f * (kNf4Levels[7] + kNf4Levels[8]),
        0.5f * (kNf4Levels[8] + kNf4Levels[9]),   0.5f * (kNf4Levels[9] + kNf4Levels[10]),
        0.5f * (kNf4Levels[10] + kNf4Levels[11]), 0.5f * (kNf4Levels[11] + kNf4Levels[12]),
        0.5f * (kNf4Levels[12] + kNf4Levels[13]), 0.5f * (kNf4Levels[13] + kNf4Levels[14]),
        0.5f * (kNf4Levels[14] + kNf4Levels[15]), 2.0f};
    const __m512 mids = _mm512_load_ps(midpoints);
    const __m512 levels = _mm512_loadu_ps(kNf4Levels.data());
    __m512i code = _mm512_setzero_si512();
    for (int step = 8; step >= 1; step /= 2) {
        const __m512i probe = _mm512_add_epi32(code, _mm512_set1_epi32(step - 1));
        const __mmask16 above =
            _mm512_cmp_ps_mask(quotient, _mm512_permutexvar_ps(probe, mids), _CMP_GT_OQ);
        code = _mm512_mask_add_epi32(code, above, code, _mm512_set1_epi32(step));
    }
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i lower = _mm512_max_epi32(_mm512_sub_epi32(code, one), _mm512_setzero_si512());
    const __m512i upper = _mm512_min_epi32(_mm512_add_epi32(code, one), _mm512_set1_epi32(15));
    const __m512 here = nf4Distance(quotient, code, levels);
    const __m512 below = nf4Distance(quotient, lower, levels);
    const __m512 above = nf4Distance(quotient, upper, levels);
    const __mmask16 hasLower = _mm512_cmpgt_epi32_mask(code, _mm512_setzero_si512());
    const __mmask16 hasUpper = _mm512_cmplt_epi32_mask(code, _mm512_set1_epi32(15));
    const __mmask16 takeLower = hasLower & _mm512_cmp_ps_mask(below, here, _CMP_LE_OQ)
                                & (_mm512_cmp_ps_mask(below, above, _CMP_LE_OQ) | ~hasUpper);
    const __mmask16 takeUpper = hasUpper & ~takeLower & _mm512_cmp_ps_mask(above, here, _CMP_LT_OQ);
    code = _mm512_mask_mov_epi32(code, takeLower, lower);
    return _mm512_mask_mov_epi32(code, takeUpper, upper);
}

COROLLA_PACKED_TARGET void quantizeNf4Avx512(const float *values, std::int64_t blocks,
                                             std::uint8_t *codes, float *absmax)
{
    for (std::int64_t b = 0; b < blocks; ++b) {
        const float *block = values + b * kNf4BlockSize;
        __m512 quarter[4];
        __m512 largest = _mm512_setzero_ps();
        for (int q = 0; q < 4; ++q) {
            quarter[q] = _mm512_loadu_ps(block + 16 * q);
            largest = _mm512_max_ps(largest, _mm512_abs_ps(quarter[q]));
        }
        const float scale = _mm512_reduce_max_ps(largest);
        absmax[b] = scale;
        __m512i code[4];
        for (int q = 0; q < 4; ++q)
            code[q] = scale == 0.0f ? _mm512_set1_epi32(7)
                                    : nf4Codes(_mm512_div_ps(quarter[q], _mm512_set1_ps(scale)));
        // Value j in the low nibble of byte j, value j + 32 in its high nibble.
        for (int half = 0; half < 2; ++half) {
            const __m512i bytes = _mm512_or_si512(code[half], _mm512_slli_epi32(code[half + 2], 4));
            _mm_storeu_si128(reinterpret_cast<__m128i *>(codes + b * 32 + 16 * half),
                             _mm512_cvtepi32_epi8(bytes));
        }
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
                           const float scale =
                               w.quantization == Quantization::Int8 ? w.scales[row] : 1.0f;
                           for (std::int64_t r = 0; r < rows; ++r) {
                               const float *input = inputs.data() + r * w.k;
                               float sum = 0;
                               for (std::int64_t i = 0; i < w.k; ++i)
                                   sum += weights[std::size_t(i)] * input[i];
                               sum *= scale;
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

namespace {

// The index of the NF4 level nearest to `value` (ties to the lower index). The midpoints
// between neighbouring levels give the candidate; its neighbours are compared by fp32 distance
// too, so that a value within rounding of a midpoint gets exactly the definition's answer.
std::uint8_t nearestNf4Level(float value)
{
    int candidate = 0;
    for (int i = 0; i + 1 < int(kNf4Levels.size()); ++i)
        candidate += value > 0.5f * (kNf4Levels[std::size_t(i)] + kNf4Levels[std::size_t(i + 1)]);
    int best = std::max(0, candidate - 1);
    float bestDistance = std::fabs(value - kNf4Levels[std::size_t(best)]);
    for (int i = best + 1; i <= std::min(15, candidate + 1); ++i) {
        const float distance = std::fabs(value - kNf4Levels[std::size_t(i)]);
        if (distance < bestDistance) {
            best = i;
            bestDistance = distance;
        }
    }
    return std::uint8_t(best);
}

} // namespace

void quantizeNf4BlocksPortable(const float *values, std::int64_t blocks, std::uint8_t *codes,
                               float *absmax)
{
    constexpr std::uint8_t kZeroLevel = 7;
    constexpr std::int64_t kHalf = kNf4BlockSize / 2;
    for (std::int64_t b = 0; b < blocks; ++b) {
        const float *block = values + b * kNf4BlockSize;
        float largest = 0.0f;
        for (std::int64_t j = 0; j < kNf4BlockSize; ++j)
            largest = std::max(largest, std::fabs(block[j]));
        absmax[b] = largest;
        std::uint8_t *bytes = codes + b * kHalf;
        for (std::int64_t j = 0; j < kHalf; ++j) {
            const std::uint8_t low =
                largest == 0.0f ? kZeroLevel : nearestNf4Level(block[j] / largest);
            const std::uint8_t high =
                largest == 0.0f ? kZeroLevel : nearestNf4Level(block[j + kHalf] / largest);
            bytes[j] = std::uint8_t(low | (high << 4));
        }
    }
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
#endif
    gemvPackedPortable(weight, x, rows, bias, y, dtype);
}

void quantizeNf4Blocks(const float *values, std::int64_t blocks, std::uint8_t *codes, float *absmax)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    if (hasPackedAvx512())
        return quantizeNf4Avx512(values, blocks, codes, absmax);
#endif
    quantizeNf4BlocksPortable(values, blocks, codes, absmax);
}

void dequantizePackedRows(const PackedView &weight, std::int64_t begin, std::int64_t end,
                          at::ScalarType dtype, void *out)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    if (hasPackedAvx512())
        return dequantizeAvx512(weight, begin, end, dtype, out);
#endif
    dequantizePackedRowsPortable(weight, begin, end, dtype, out);
}

} // namespace corolla
