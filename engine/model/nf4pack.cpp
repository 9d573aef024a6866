#include "model/nf4pack.h"

// The AVX-512 packer needs GCC or Clang on x86-64 (target attributes, intrinsics).
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_PACKED_AVX512 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>

#include "model/linearweight.h"
#include "model/quantkernels.h"

namespace corolla {

namespace {

#ifdef COROLLA_HAVE_PACKED_AVX512

#define COROLLA_PACKED_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

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

void quantizeNf4Blocks(const float *values, std::int64_t blocks, std::uint8_t *codes, float *absmax)
{
#ifdef COROLLA_HAVE_PACKED_AVX512
    if (hasPackedAvx512())
        return quantizeNf4Avx512(values, blocks, codes, absmax);
#endif
    quantizeNf4BlocksPortable(values, blocks, codes, absmax);
}

} // namespace corolla
