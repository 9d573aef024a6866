#include "model/quantkernels.h"

// The AVX2 kernels of quantkernels.h: for processors with AVX2 and FMA but not the AVX-512
// the kernels in quantkernels.cpp need. GCC or Clang on x86-64 (target attributes,
// intrinsics); elsewhere the public functions run the portable loops.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_PACKED_AVX2 1
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

#include "model/kernelthreads.h"
#include "model/linearweight.h"
#include "model/packedvalues.h"

namespace corolla {

using packed::store;
using packed::toFloat;

#ifdef COROLLA_HAVE_PACKED_AVX2

namespace {

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
    packed::Nf4AbsmaxBuffer widened(w);
    for (std::int64_t row = begin; row < end; ++row) {
        __m256 acc[ROWS][2];
        for (int r = 0; r < ROWS; ++r)
            acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        float tails[ROWS] = {};
        float sumScale = 1.0f;
        if (w.quantization == Quantization::Nf4) {
            const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
            const float *absmax = packed::nf4RowAbsmax(w, row, widened.data());
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
    packed::Nf4AbsmaxBuffer widened(w);
    for (std::int64_t row = begin; row < end; ++row) {
        const std::int64_t offset = (row - begin) * k;
        if (w.quantization == Quantization::Nf4) {
            const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
            const float *absmax = packed::nf4RowAbsmax(w, row, widened.data());
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

} // namespace

#endif

bool hasPackedAvx2()
{
#ifdef COROLLA_HAVE_PACKED_AVX2
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
#ifdef COROLLA_HAVE_PACKED_AVX2
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
#ifdef COROLLA_HAVE_PACKED_AVX2
    dequantizeAvx2(weight, begin, end, dtype, out);
#else
    dequantizePackedRowsPortable(weight, begin, end, dtype, out);
#endif
}

} // namespace corolla
