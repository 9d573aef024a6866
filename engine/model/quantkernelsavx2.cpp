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
#include "model/nf4bytetables.h"
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

// One block's NF4 table in fp32: levels 0-7 and 8-15 times its absmax.
struct Nf4Table {
    __m256 low, high;
};

COROLLA_PACKED_AVX2_TARGET inline Nf4Table nf4TableAvx2(float absmax)
{
    const __m256 scale = _mm256_set1_ps(absmax);
    return {_mm256_mul_ps(_mm256_loadu_ps(kNf4Levels.data()), scale),
            _mm256_mul_ps(_mm256_loadu_ps(kNf4Levels.data() + 8), scale)};
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

// Packed rows are read this far ahead with prefetch instructions, as in the AVX-512 loops:
// measured out of cache on a 2-core Zen 3 VM, the int8 product streamed 13-16 GB/s without
// and 15-20 GB/s with prefetches 1-4 KiB ahead (the bf16 product 15-22 in the same turns);
// the NF4 product, held by its lookups there, about 5% faster.
constexpr std::int64_t kPrefetchBytes = 4096;

COROLLA_PACKED_AVX2_TARGET inline void prefetchAhead(const void *address)
{
    _mm_prefetch(static_cast<const char *>(address) + kPrefetchBytes, _MM_HINT_T0);
}

// A fused multiply-add waits four cycles for the one before it on the same accumulator, and
// two can start per cycle: with fewer than eight independent sums in flight that latency, not
// memory, sets the speed of a loop that does little else. So each input row of the int8 and
// fp32 NF4 loops gets kAccumulators<ROWS> of them; the bf16 NF4 loop, whose lookups take
// registers and cycles of their own, keeps fewer (see there).
template <int ROWS> constexpr int kAccumulators = ROWS == 1 ? 8 : ROWS == 2 ? 4 : 2;

template <int ROWS, int ACC>
COROLLA_PACKED_AVX2_TARGET inline void zeroAccumulators(__m256 (&acc)[ROWS][ACC])
{
    for (int r = 0; r < ROWS; ++r) {
        for (int a = 0; a < ACC; ++a)
            acc[r][a] = _mm256_setzero_ps();
    }
}

template <int ACC> COROLLA_PACKED_AVX2_TARGET inline float sumAccumulators(const __m256 (&acc)[ACC])
{
    __m256 sum = acc[0];
    for (int a = 1; a < ACC; ++a)
        sum = _mm256_add_ps(sum, acc[a]);
    return sumLanesAvx2(sum);
}

// Eight int8 weights as the products below take them: the codes for bf16 inputs, the
// dequantized weights for fp32 ones.
template <bool BF16>
COROLLA_PACKED_AVX2_TARGET inline __m256 int8Weights(const std::int8_t *codes, __m256 scale)
{
    return BF16 ? int8Eighth(codes) : _mm256_mul_ps(int8Eighth(codes), scale);
}

// Output rows [begin, end) of an int8 weight for ROWS fp32 inputs (bf16 inputs widened
// exactly): for fp32 inputs the codes times the row's scale (the dequantized weights), for
// bf16 ones the codes themselves — exact integer products whose sum the scale multiplies, as
// in the AVX-512 loop.
template <int ROWS, bool BF16>
COROLLA_PACKED_AVX2_TARGET void int8RangeAvx2(const PackedView &w, const float *x, float *sums,
                                              std::int64_t begin, std::int64_t end)
{
    constexpr int kAcc = kAccumulators<ROWS>;
    const std::int64_t k = w.k;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        const float scale = w.scales[row];
        const __m256 weightScale = _mm256_set1_ps(scale);
        __m256 acc[ROWS][kAcc];
        zeroAccumulators(acc);
        std::int64_t i = 0;
        for (; i + 64 <= k; i += 64) {
            prefetchAhead(codes + i);
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) {
                const __m256 values = int8Weights<BF16>(codes + i + 8 * j, weightScale);
#pragma GCC unroll 8
                for (int r = 0; r < ROWS; ++r)
                    acc[r][j % kAcc] = _mm256_fmadd_ps(
                        values, _mm256_loadu_ps(x + r * k + i + 8 * j), acc[r][j % kAcc]);
            }
        }
        for (; i + 8 <= k; i += 8) {
            const __m256 values = int8Weights<BF16>(codes + i, weightScale);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] = _mm256_fmadd_ps(values, _mm256_loadu_ps(x + r * k + i), acc[r][0]);
        }
        float tails[ROWS] = {};
        for (; i < k; ++i) {
            const float weight = BF16 ? float(codes[i]) : float(codes[i]) * scale;
            for (int r = 0; r < ROWS; ++r)
                tails[r] += weight * x[r * k + i];
        }
        for (int r = 0; r < ROWS; ++r)
            sums[r * w.n + row] = (sumAccumulators(acc[r]) + tails[r]) * (BF16 ? scale : 1.0f);
    }
}

// Output rows [begin, end) of an nf4 weight for ROWS fp32 inputs: the block's fp32 table
// (the dequantized weights) looked up by vpermps, eight weights at a time.
template <int ROWS>
COROLLA_PACKED_AVX2_TARGET void nf4RangeFp32Avx2(const PackedView &w, const float *x, float *sums,
                                                 std::int64_t begin, std::int64_t end)
{
    constexpr int kAcc = kAccumulators<ROWS>;
    const std::int64_t k = w.k;
    packed::Nf4AbsmaxBuffer widened(w);
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
        const float *absmax = packed::nf4RowAbsmax(w, row, widened.data());
        __m256 acc[ROWS][kAcc];
        zeroAccumulators(acc);
        for (std::int64_t b = 0; b < k / kNf4BlockSize; ++b) {
            if (b % 2 == 0)
                prefetchAhead(codes + b * 32);
            const Nf4Table table = nf4TableAvx2(absmax[b]);
#pragma GCC unroll 4
            for (int g = 0; g < 4; ++g) {
                __m256 low, high;
                nf4Eighths(table, codes + b * 32 + 8 * g, low, high);
#pragma GCC unroll 8
                for (int r = 0; r < ROWS; ++r) {
                    const float *input = x + r * k + b * kNf4BlockSize + 8 * g;
                    __m256 &first = acc[r][(2 * g) % kAcc], &second = acc[r][(2 * g + 1) % kAcc];
                    first = _mm256_fmadd_ps(low, _mm256_loadu_ps(input), first);
                    second = _mm256_fmadd_ps(high, _mm256_loadu_ps(input + 32), second);
                }
            }
        }
        for (int r = 0; r < ROWS; ++r)
            sums[r * w.n + row] = sumAccumulators(acc[r]);
    }
}

// NF4 with bf16 inputs: each block's 16 weights, bf16(level × absmax), as two 16-byte tables
// — their low and their high bytes — that vpshufb indexes with 32 codes at a time; unpacking
// the two lookups gives bf16 pairs, and a shift or a mask makes each an fp32 lane. Half the
// instructions of the fp32 tables' two vpermps and a blend per eight weights. An absmax held in
// bf16 finds its tables in nf4bytetables.h; others multiply and round the levels.
struct Nf4ByteTable {
    __m256i low, high; // the 16 bytes twice, once per 128-bit lane
};

// bf16(level × absmax) for the 16 levels, multiplied and rounded in fp32 lanes, as tables.
COROLLA_PACKED_AVX2_TARGET inline Nf4ByteTable nf4ByteTableFromProducts(float absmax)
{
    // Levels 0-3, 8-11 and 4-7, 12-15: packing the two halves' words then puts levels 0-7 in
    // the low 128-bit lane and 8-15 in the high one.
    static const float order[16] = {kNf4Levels[0],  kNf4Levels[1],  kNf4Levels[2],  kNf4Levels[3],
                                    kNf4Levels[8],  kNf4Levels[9],  kNf4Levels[10], kNf4Levels[11],
                                    kNf4Levels[4],  kNf4Levels[5],  kNf4Levels[6],  kNf4Levels[7],
                                    kNf4Levels[12], kNf4Levels[13], kNf4Levels[14], kNf4Levels[15]};
    const __m256 scale = _mm256_set1_ps(absmax);
    const __m256i first = _mm256_srli_epi32(
        _mm256_castps_si256(roundToBf16(_mm256_mul_ps(_mm256_loadu_ps(order), scale))), 16);
    const __m256i second = _mm256_srli_epi32(
        _mm256_castps_si256(roundToBf16(_mm256_mul_ps(_mm256_loadu_ps(order + 8), scale))), 16);
    // Per lane: the eight words' low bytes, then their high bytes.
    const __m256i split =
        _mm256_shuffle_epi8(_mm256_packus_epi32(first, second),
                            _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                             0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
    return {_mm256_permute4x64_epi64(split, 0x88), _mm256_permute4x64_epi64(split, 0xdd)};
}

// 16 bytes in both 128-bit lanes.
COROLLA_PACKED_AVX2_TARGET inline __m256i bothLanes(const std::uint8_t *bytes)
{
    return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i *>(bytes)));
}

COROLLA_PACKED_AVX2_TARGET inline Nf4ByteTable nf4ByteTable(const Nf4ScaledTables &tables,
                                                            std::uint16_t absmax)
{
    const unsigned exponent = absmax >> 7; // above 255 for a negative absmax
    if (exponent - kNf4FastExponentMin > kNf4FastExponentMax - kNf4FastExponentMin)
        return nf4ByteTableFromProducts(packed::bf16Bits(absmax));
    const unsigned t = (absmax & 127) | ((exponent & 1) << 7);
    return {bothLanes(tables.low[t]),
            _mm256_add_epi8(bothLanes(tables.high[t]),
                            _mm256_load_si256(
                                reinterpret_cast<const __m256i *>(tables.exponentStep[exponent])))};
}

// Where the loop below puts input i of a block of 64: the lookups of the codes of bytes j
// (values j and 32 + j) unpack into lanes that hold values 16c + 2d (shifted) and 16c + 2d + 1
// (masked), then 16c + 8 + 2d and 16c + 9 + 2d, for 128-bit lane c and pair d.
constexpr int nf4Bf16InputPosition(int i)
{
    const int half = i / 32, value = i % 32, lane = value / 16, pair = (value % 8) / 2;
    const int vector = 2 * ((value % 16) / 8) + value % 2;
    return 32 * half + 8 * vector + 4 * lane + pair;
}

// Output rows [begin, end) of an nf4 weight for ROWS bf16 inputs (widened exactly), each
// block's inputs in the order nf4Bf16InputPosition gives: the products are exact, as in the
// AVX-512 loop.
template <int ROWS>
COROLLA_PACKED_AVX2_TARGET void nf4RangeBf16Avx2(const PackedView &w, const float *x, float *sums,
                                                 std::int64_t begin, std::int64_t end)
{
    // Four accumulators for one input row, two per row for more: the lookups keep seven
    // registers busy, and with eight accumulators the compiler spilled to the stack. On the
    // Zen 3 VM, bench local in turns: NF4 decoded 24.9-25.6 tokens/s with four, 19.4-19.9 with
    // eight.
    constexpr int kAcc = ROWS == 1 ? 4 : 2;
    const std::int64_t k = w.k, blocks = k / kNf4BlockSize;
    const Nf4ScaledTables &tables = nf4ScaledTables();
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    const __m256i highWord = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (k / 2);
        const std::uint16_t *heldAbsmax = w.absmaxBf16 ? w.absmaxBf16 + row * blocks : nullptr;
        const float *wideAbsmax = w.absmaxBf16 ? nullptr : w.scales + row * blocks;
        __m256 acc[ROWS][kAcc];
        zeroAccumulators(acc);
        for (std::int64_t b = 0; b < blocks; ++b) {
            if (b % 2 == 0)
                prefetchAhead(codes + b * 32);
            const Nf4ByteTable table = heldAbsmax ? nf4ByteTable(tables, heldAbsmax[b])
                                                  : nf4ByteTableFromProducts(wideAbsmax[b]);
            const __m256i bytes =
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(codes + b * 32));
            const __m256i halves[2] = {_mm256_and_si256(bytes, nibble),
                                       _mm256_and_si256(_mm256_srli_epi16(bytes, 4), nibble)};
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
                const __m256i low = _mm256_shuffle_epi8(table.low, halves[h]);
                const __m256i high = _mm256_shuffle_epi8(table.high, halves[h]);
                const __m256i first = _mm256_unpacklo_epi8(low, high);
                const __m256i second = _mm256_unpackhi_epi8(low, high);
                const __m256 weights[4] = {_mm256_castsi256_ps(_mm256_slli_epi32(first, 16)),
                                           _mm256_castsi256_ps(_mm256_and_si256(first, highWord)),
                                           _mm256_castsi256_ps(_mm256_slli_epi32(second, 16)),
                                           _mm256_castsi256_ps(_mm256_and_si256(second, highWord))};
#pragma GCC unroll 4
                for (int v = 0; v < 4; ++v) {
#pragma GCC unroll 8
                    for (int r = 0; r < ROWS; ++r) {
                        __m256 &sum = acc[r][(4 * h + v) % kAcc];
                        sum = _mm256_fmadd_ps(
                            weights[v],
                            _mm256_loadu_ps(x + r * k + b * kNf4BlockSize + 32 * h + 8 * v), sum);
                    }
                }
            }
        }
        for (int r = 0; r < ROWS; ++r)
            sums[r * w.n + row] = sumAccumulators(acc[r]);
    }
}

template <int ROWS> void gemvAvx2Rows(const PackedView &w, const float *x, bool bf16, float *sums)
{
    const std::int64_t rowBytes = w.quantization == Quantization::Int8 ? w.k : w.k / 2;
    parallelRows(w.n, rowBytes, [&](std::int64_t begin, std::int64_t end) {
        if (w.quantization == Quantization::Nf4)
            bf16 ? nf4RangeBf16Avx2<ROWS>(w, x, sums, begin, end)
                 : nf4RangeFp32Avx2<ROWS>(w, x, sums, begin, end);
        else
            bf16 ? int8RangeAvx2<ROWS, true>(w, x, sums, begin, end)
                 : int8RangeAvx2<ROWS, false>(w, x, sums, begin, end);
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
                const Nf4Table table = nf4TableAvx2(absmax[b]);
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
    const bool bf16 = dtype == at::kBFloat16;
    if (bf16 && weight.quantization == Quantization::Nf4) {
        for (std::int64_t block = 0; block < count; block += kNf4BlockSize) {
            for (int i = 0; i < kNf4BlockSize; ++i)
                inputs[std::size_t(block + nf4Bf16InputPosition(i))] = toFloat(x, block + i, dtype);
        }
    } else {
        for (std::int64_t i = 0; i < count; ++i)
            inputs[std::size_t(i)] = toFloat(x, i, dtype);
    }
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
