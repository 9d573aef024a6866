#include "model/quantkernels.h"

// The int8 decode product with bf16 inputs for processors with AVX-512 VBMI (byte permutes
// across a whole register) besides F, BW and BF16. The widening of int8 codes to bf16, not
// memory, limits the plain AVX-512 loop when a core has much bandwidth: sign-extend, convert
// to fp32 and round back to bf16 takes ten instructions per 64 weights. Here two byte lookups
// give the high and low bytes of the bf16 value of |q| for 64 codes at once (every integer up
// to 127 is exact in bf16, so the values are the same), one bitwise operation restores the
// sign, and two interleaves pair the bytes: measured on a Zen 4 core in cache, 80-86 GB/s of
// codes against 52-55 for the plain loop.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define COROLLA_HAVE_PACKED_VBMI 1
#include <immintrin.h>

#include "model/packeddot.h"
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <memory>
#include <new>

#include <c10/util/BFloat16.h>

#include "model/kernelthreads.h"

namespace corolla {

#ifdef COROLLA_HAVE_PACKED_VBMI

namespace {

#define COROLLA_PACKED_VBMI_TARGET                                                                 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx512vbmi")))

// The bf16 encoding of the integers 0-127: its high bytes and its low bytes.
constexpr std::array<std::uint8_t, 128> bf16IntegerBytes(int shift)
{
    std::array<std::uint8_t, 128> bytes{};
    for (int value = 0; value < 128; ++value)
        bytes[std::size_t(value)] =
            std::uint8_t(std::bit_cast<std::uint32_t>(float(value)) >> shift);
    return bytes;
}
alignas(64) constexpr std::array<std::uint8_t, 128> kHighBytes = bf16IntegerBytes(24);
alignas(64) constexpr std::array<std::uint8_t, 128> kLowBytes = bf16IntegerBytes(16);

constexpr std::int64_t kChunk = 64;           // codes per lookup
constexpr std::int64_t kPrefetchBytes = 4096; // as the other AVX-512 loops (quantkernels.cpp)

// Interleaving bytes within each 128-bit lane gives the weights of a chunk in the order
// 0-7, 16-23, 32-39, 48-55 (first register) and 8-15, 24-31, 40-47, 56-63 (second). The
// inputs are put in that order once per product, so that the codes are read as stored.
void permuteInputs(const std::uint16_t *x, std::int64_t rows, std::int64_t k, std::int64_t chunkedK,
                   std::uint16_t *out)
{
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::uint16_t *input = x + r * k;
        std::uint16_t *target = out + r * chunkedK;
        for (std::int64_t c = 0; c < chunkedK; c += kChunk) {
            for (int lane = 0; lane < 4; ++lane) {
                for (int j = 0; j < 8; ++j) {
                    target[c + 8 * lane + j] = input[c + 16 * lane + j];
                    target[c + 32 + 8 * lane + j] = input[c + 16 * lane + 8 + j];
                }
            }
        }
    }
}

struct Tables {
    __m512i high0, high1, low0, low1, sign;
};

// 64 int8 codes (in [-127, 127], as the format stores them) against ROWS permuted bf16
// inputs into the accumulators `acc[r][pair]` and `acc[r][pair + 1]`.
template <int ROWS, int ACC>
COROLLA_PACKED_VBMI_TARGET inline void
int8ChunkVbmi(const std::int8_t *codes, const std::uint16_t *x, std::int64_t stride,
              const Tables &t, __m512 (&acc)[ROWS][ACC], int pair)
{
    const __m512i q = _mm512_loadu_si512(codes);
    const __m512i magnitude = _mm512_abs_epi8(q);
    // High byte with q's sign bit: lookup | (q & 0x80).
    const __m512i high = _mm512_ternarylogic_epi32(
        _mm512_permutex2var_epi8(t.high0, magnitude, t.high1), q, t.sign, 0xF8);
    const __m512i low = _mm512_permutex2var_epi8(t.low0, magnitude, t.low1);
    packed::accumulatePair(acc, pair, (__m512bh)_mm512_unpacklo_epi8(low, high),
                           (__m512bh)_mm512_unpackhi_epi8(low, high), x, stride);
}

// Output rows [begin, end): the chunks against the permuted inputs `xp` [ROWS, chunkedK],
// the codes past the last whole chunk against the inputs `x` as given, the row's scale times
// the sum. Few input rows take two chunks at a time into four accumulators per row, so that
// the latency of vdpbf16ps on one accumulator does not set the pace.
template <int ROWS>
COROLLA_PACKED_VBMI_TARGET void int8RangeVbmi(const PackedView &w, const std::uint16_t *x,
                                              const std::uint16_t *xp, std::int64_t chunkedK,
                                              const c10::BFloat16 *bias, c10::BFloat16 *y,
                                              std::int64_t begin, std::int64_t end)
{
    constexpr int kStride = ROWS <= 2 ? 2 : 1;
    const Tables t{_mm512_load_si512(kHighBytes.data()), _mm512_load_si512(kHighBytes.data() + 64),
                   _mm512_load_si512(kLowBytes.data()), _mm512_load_si512(kLowBytes.data() + 64),
                   _mm512_set1_epi8(char(0x80))};
    const std::int64_t k = w.k;
    for (std::int64_t row = begin; row < end; ++row) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * k;
        __m512 acc[ROWS][2 * kStride];
        for (auto &rowAcc : acc) {
            for (__m512 &a : rowAcc)
                a = _mm512_setzero_ps();
        }
        std::int64_t i = 0;
        for (; i + kChunk * kStride <= chunkedK; i += kChunk * kStride) {
#pragma GCC unroll 2
            for (int s = 0; s < kStride; ++s) {
                const std::int64_t at = i + kChunk * s;
                _mm_prefetch(reinterpret_cast<const char *>(codes + at) + kPrefetchBytes,
                             _MM_HINT_T0);
                int8ChunkVbmi(codes + at, xp + at, chunkedK, t, acc, 2 * s);
            }
        }
        for (; i < chunkedK; i += kChunk)
            int8ChunkVbmi(codes + i, xp + i, chunkedK, t, acc, 0);
        // The remaining k % 64 codes, widened through fp32 (exact) with masked loads.
        for (; i < k; i += 32) {
            const std::int64_t count = std::min<std::int64_t>(32, k - i);
            const __mmask32 mask = count >= 32 ? __mmask32(~0u) : __mmask32((1u << count) - 1);
            const __m512i words = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, codes + i));
            const __m512 low =
                _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(words)));
            const __m512 high =
                _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(words, 1)));
            const __m512bh weights = _mm512_cvtne2ps_pbh(high, low);
            for (int r = 0; r < ROWS; ++r)
                acc[r][0] = _mm512_dpbf16_ps(
                    acc[r][0], weights, (__m512bh)_mm512_maskz_loadu_epi16(mask, x + r * k + i));
        }
        for (int r = 0; r < ROWS; ++r) {
            __m512 sum = acc[r][0];
            for (int a = 1; a < 2 * kStride; ++a)
                sum = _mm512_add_ps(sum, acc[r][a]);
            float value = _mm512_reduce_add_ps(sum) * w.scales[row];
            if (bias)
                value += float(bias[row]);
            y[r * w.n + row] = c10::BFloat16(value);
        }
    }
}

constexpr std::size_t kAlignment = 64;

// Frees what an over-aligned new[] allocated: a plain delete[] would hand the block to the
// default-aligned allocator, which is undefined behaviour.
struct AlignedDelete {
    void operator()(std::uint16_t *p) const
    {
        ::operator delete[](p, std::align_val_t(kAlignment));
    }
};

template <int ROWS>
void int8GemvVbmiRows(const PackedView &w, const std::uint16_t *x, const c10::BFloat16 *bias,
                      c10::BFloat16 *y)
{
    const std::int64_t chunkedK = w.k - w.k % kChunk;
    const std::unique_ptr<std::uint16_t[], AlignedDelete> permuted(new (std::align_val_t(
        kAlignment)) std::uint16_t[std::size_t(std::max<std::int64_t>(1, ROWS * chunkedK))]);
    permuteInputs(x, ROWS, w.k, chunkedK, permuted.get());
    parallelRows(w.n, w.k, [&](std::int64_t begin, std::int64_t end) {
        int8RangeVbmi<ROWS>(w, x, permuted.get(), chunkedK, bias, y, begin, end);
    });
}

} // namespace

#endif

bool hasPackedVbmi()
{
#ifdef COROLLA_HAVE_PACKED_VBMI
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
               && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16")
               && __builtin_cpu_supports("avx512vbmi");
    }();
    return supported;
#else
    return false;
#endif
}

void gemvPackedInt8Vbmi(const PackedView &weight, const c10::BFloat16 *x, std::int64_t rows,
                        const c10::BFloat16 *bias, c10::BFloat16 *y)
{
#ifdef COROLLA_HAVE_PACKED_VBMI
    const auto *x16 = reinterpret_cast<const std::uint16_t *>(x);
    switch (rows) {
    case 1: return int8GemvVbmiRows<1>(weight, x16, bias, y);
    case 2: return int8GemvVbmiRows<2>(weight, x16, bias, y);
    case 3: return int8GemvVbmiRows<3>(weight, x16, bias, y);
    case 4: return int8GemvVbmiRows<4>(weight, x16, bias, y);
    case 5: return int8GemvVbmiRows<5>(weight, x16, bias, y);
    case 6: return int8GemvVbmiRows<6>(weight, x16, bias, y);
    case 7: return int8GemvVbmiRows<7>(weight, x16, bias, y);
    default: return int8GemvVbmiRows<8>(weight, x16, bias, y);
    }
#else
    gemvPackedPortable(weight, x, rows, bias, y, at::kBFloat16);
#endif
}

} // namespace corolla
