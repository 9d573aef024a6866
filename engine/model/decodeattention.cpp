#include "model/decodeattention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>

#include "model/gemvbf16.h"
#include "model/kernelthreads.h"
#include "model/vectormath.h"

namespace corolla::ops {

namespace {

// A dot product with 16 independent partial sums, so that the compiler can vectorise it
// (a single fp32 accumulator would serialise on the add latency).
template <typename Scalar> float dot(const float *query, const Scalar *key, std::int64_t dim)
{
    constexpr int kLanes = 16;
    float lanes[kLanes] = {};
    std::int64_t d = 0;
    for (; d + kLanes <= dim; d += kLanes) {
        for (int lane = 0; lane < kLanes; ++lane)
            lanes[lane] += query[d + lane] * float(key[d + lane]);
    }
    for (; d < dim; ++d)
        lanes[0] += query[d] * float(key[d]);
    float total = 0.0f;
    for (float lane : lanes)
        total += lane;
    return total;
}

// scores[j] = e^(scores[j] - maximum), masked scores (-infinity) 0; returns their sum. With
// every score masked, all are 0 (and the caller's weights 0 / 0).
float expShiftedSum(std::vector<float> &scores, std::int64_t context, float maximum)
{
    constexpr float kMasked = -std::numeric_limits<float>::infinity();
#ifdef COROLLA_HAVE_VECTOR_MATH
    if (maximum != kMasked && vecmath::hasVectorMathAvx512())
        return vecmath::expShiftedSum(scores.data(), context, maximum);
#endif
    float total = 0.0f;
    for (std::int64_t j = 0; j < context; ++j) {
        float &score = scores[std::size_t(j)];
        score = score == kMasked ? 0.0f : std::exp(score - maximum);
        total += score;
    }
    return total;
}

#ifdef COROLLA_HAVE_VECTOR_MATH

#define COROLLA_ATTENTION_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

COROLLA_ATTENTION_TARGET inline __m512bh loadBf16(const c10::BFloat16 *values)
{
    return (__m512bh)_mm512_loadu_si512(values);
}

// q . k over `dim` bf16 values (a multiple of 32): vdpbf16ps forms the exact products and sums
// them in fp32, two accumulators deep.
COROLLA_ATTENTION_TARGET float dotBf16(const c10::BFloat16 *query, const c10::BFloat16 *key,
                                       std::int64_t dim)
{
    __m512 first = _mm512_setzero_ps(), second = _mm512_setzero_ps();
    std::int64_t d = 0;
    for (; d + 64 <= dim; d += 64) {
        first = _mm512_dpbf16_ps(first, loadBf16(query + d), loadBf16(key + d));
        second = _mm512_dpbf16_ps(second, loadBf16(query + d + 32), loadBf16(key + d + 32));
    }
    if (d < dim)
        first = _mm512_dpbf16_ps(first, loadBf16(query + d), loadBf16(key + d));
    return _mm512_reduce_add_ps(_mm512_add_ps(first, second));
}

// Per 128-bit quarter: a's quarters 0 + 2 and 1 + 3, then b's.
COROLLA_ATTENTION_TARGET inline __m512 addHalves(__m512 a, __m512 b)
{
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
}

// Lane i: the sum of the 16 lanes of v[i]. Pairs of registers are added interleaved, then
// their quarters, then their halves: 30 operations instead of 16 full reductions.
COROLLA_ATTENTION_TARGET inline __m512 transposedSums(const __m512 (&v)[16])
{
    __m512 pairs[8], quads[4];
    for (int i = 0; i < 8; ++i) {
        pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                                 _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    }
    // Each 128-bit quarter of quads[i]: the partial sums of v[4i] to v[4i + 3] over it.
    for (int i = 0; i < 4; ++i) {
        quads[i] = _mm512_add_ps(
            _mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
            _mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    const __m512 low = addHalves(quads[0], quads[1]), high = addHalves(quads[2], quads[3]);
    return _mm512_add_ps(_mm512_shuffle_f32x4(low, high, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(low, high, _MM_SHUFFLE(3, 1, 3, 1)));
}

// out[j] = q . k_j for `count` keys `keyStride` apart, `dim` a multiple of 32: sixteen keys
// at a time, each summed in one register, the sixteen reduced together.
COROLLA_ATTENTION_TARGET void queryKeysBf16(const c10::BFloat16 *query, const c10::BFloat16 *keys,
                                            std::int64_t keyStride, std::int64_t dim,
                                            std::int64_t count, float *out)
{
    std::int64_t j = 0;
    for (; j + 16 <= count; j += 16) {
        __m512 sums[16];
        for (int i = 0; i < 16; ++i) {
            const c10::BFloat16 *key = keys + (j + i) * keyStride;
            __m512 sum = _mm512_setzero_ps();
            for (std::int64_t d = 0; d < dim; d += 32)
                sum = _mm512_dpbf16_ps(sum, loadBf16(query + d), loadBf16(key + d));
            sums[i] = sum;
        }
        _mm512_storeu_ps(out + j, transposedSums(sums));
    }
    for (; j < count; ++j)
        out[j] = dotBf16(query, keys + j * keyStride, dim);
}

// out[0, 16 N) = sum_j weights[j] * value_j[0, 16 N), in N registers; zero weights skipped.
template <int N>
COROLLA_ATTENTION_TARGET void weightedValuesBf16(const float *weights, const c10::BFloat16 *values,
                                                 std::int64_t valueStride, std::int64_t count,
                                                 float *out)
{
    __m512 sums[N];
    for (__m512 &sum : sums)
        sum = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < count; ++j) {
        if (weights[j] == 0.0f)
            continue;
        const __m512 weight = _mm512_set1_ps(weights[j]);
        const c10::BFloat16 *value = values + j * valueStride;
        for (int n = 0; n < N; ++n) {
            const __m512i words = _mm512_cvtepu16_epi32(
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(value + 16 * n)));
            sums[n] =
                _mm512_fmadd_ps(weight, _mm512_castsi512_ps(_mm512_slli_epi32(words, 16)), sums[n]);
        }
    }
    for (int n = 0; n < N; ++n)
        _mm512_storeu_ps(out + 16 * n, sums[n]);
}

// The same over `dim` values (a multiple of 32), up to 128 at a time.
COROLLA_ATTENTION_TARGET void weightedValuesBf16(const float *weights, const c10::BFloat16 *values,
                                                 std::int64_t valueStride, std::int64_t dim,
                                                 std::int64_t count, float *out)
{
    for (std::int64_t d = 0; d < dim; d += 128) {
        switch (std::min<std::int64_t>(128, dim - d) / 16) {
        case 2: weightedValuesBf16<2>(weights, values + d, valueStride, count, out + d); break;
        case 4: weightedValuesBf16<4>(weights, values + d, valueStride, count, out + d); break;
        case 6: weightedValuesBf16<6>(weights, values + d, valueStride, count, out + d); break;
        default: weightedValuesBf16<8>(weights, values + d, valueStride, count, out + d); break;
        }
    }
}

#endif

// How a query-key product becomes a score: times `scale`, then (softcap > 0) bent to
// softcap * tanh(s / softcap).
struct Scoring {
    float scale;
    float softcap;

    float operator()(float product) const
    {
        const float scaled = product * scale;
        return softcap > 0.0f ? softcap * std::tanh(scaled / softcap) : scaled;
    }
};

// bf16 heads of a multiple of 32 values take the AVX-512 BF16 loops where there are some.
template <typename Scalar> bool takesVectorLoops(std::int64_t dim)
{
#ifdef COROLLA_HAVE_VECTOR_MATH
    if constexpr (std::is_same_v<Scalar, c10::BFloat16>)
        return dim % 32 == 0 && hasNativeBf16();
#endif
    (void)dim;
    return false;
}

// out[j] = q . k_j for `count` keys, from the query's own values (`queryRow`) in the vector
// loop, else from its fp32 copy.
template <typename Scalar>
void queryKeys(const Scalar *queryRow, const float *query, const Scalar *keys,
               std::int64_t keyStride, std::int64_t dim, std::int64_t count, bool vector,
               float *out)
{
#ifdef COROLLA_HAVE_VECTOR_MATH
    if constexpr (std::is_same_v<Scalar, c10::BFloat16>) {
        if (vector)
            return queryKeysBf16(queryRow, keys, keyStride, dim, count, out);
    }
#endif
    (void)queryRow;
    (void)vector;
    for (std::int64_t j = 0; j < count; ++j)
        out[j] = dot(query, keys + j * keyStride, dim);
}

// out[0, dim) = sum_j weights[j] * value_j, zero weights skipped.
template <typename Scalar>
void weightedValues(const float *weights, const Scalar *values, std::int64_t valueStride,
                    std::int64_t dim, std::int64_t count, bool vector, float *out)
{
#ifdef COROLLA_HAVE_VECTOR_MATH
    if constexpr (std::is_same_v<Scalar, c10::BFloat16>) {
        if (vector)
            return weightedValuesBf16(weights, values, valueStride, dim, count, out);
    }
#endif
    (void)vector;
    std::fill(out, out + dim, 0.0f);
    for (std::int64_t j = 0; j < count; ++j) {
        if (weights[j] == 0.0f)
            continue;
        const Scalar *value = values + j * valueStride;
        for (std::int64_t d = 0; d < dim; ++d)
            out[d] += weights[j] * float(value[d]);
    }
}

template <typename Scalar>
void attendHead(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                const at::Tensor &mask, const at::Tensor &bias, const Scoring &scoring,
                at::Tensor &out, std::int64_t b, std::int64_t h)
{
    const std::int64_t heads = q.size(1), steps = q.size(2), dim = q.size(3);
    const std::int64_t context = k.size(2);
    const std::int64_t kvHead = h / (heads / k.size(1));
    const Scalar *keys = k.data_ptr<Scalar>() + b * k.stride(0) + kvHead * k.stride(1);
    const Scalar *values = v.data_ptr<Scalar>() + b * v.stride(0) + kvHead * v.stride(1);
    const std::int64_t keyStride = k.stride(2), valueStride = v.stride(2);
    const float *biasRow = bias.defined() ? bias.data_ptr<float>()
                                                + (bias.size(0) == 1 ? 0 : b) * bias.stride(0)
                                                + h * bias.stride(1)
                                          : nullptr;

    std::vector<float> query(std::size_t(dim), 0.0f), scores(std::size_t(context), 0.0f),
        accumulated(std::size_t(dim), 0.0f);
    const bool vector = takesVectorLoops<Scalar>(dim);
    for (std::int64_t t = 0; t < steps; ++t) {
        const Scalar *queryRow = q.data_ptr<Scalar>() + ((b * heads + h) * steps + t) * dim;
        if (!vector) { // the vector loop reads the query's own bf16 values
            for (std::int64_t d = 0; d < dim; ++d)
                query[std::size_t(d)] = float(queryRow[d]);
        }
        const float *maskRow = mask.data_ptr<float>() + (b * steps + t) * context;

        // scores_j = scoring(q . k_j) + bias_j + mask_j, then a numerically stable softmax.
        queryKeys(queryRow, query.data(), keys, keyStride, dim, context, vector, scores.data());
        float maximum = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j < context; ++j) {
            float &score = scores[std::size_t(j)];
            score = maskRow[j] == -std::numeric_limits<float>::infinity()
                        ? maskRow[j]
                        : scoring(score) + (biasRow ? biasRow[j] : 0.0f) + maskRow[j];
            maximum = std::max(maximum, score);
        }
        const float total = expShiftedSum(scores, context, maximum);
        for (float &score : scores)
            score /= total; // the weights
        weightedValues(scores.data(), values, valueStride, dim, context, vector,
                       accumulated.data());
        Scalar *outRow = out.data_ptr<Scalar>() + (b * steps + t) * heads * dim + h * dim;
        for (std::int64_t d = 0; d < dim; ++d)
            outRow[d] = Scalar(accumulated[std::size_t(d)]);
    }
}

} // namespace

at::Tensor decodeAttention(const at::Tensor &qIn, const at::Tensor &k, const at::Tensor &v,
                           const at::Tensor &maskIn, double scale, const at::Tensor &biasIn,
                           double softcap)
{
    const at::Tensor q = qIn.contiguous();
    const at::Tensor mask = maskIn.to(at::kFloat).contiguous();
    const at::Tensor bias = biasIn.defined() ? biasIn.to(at::kFloat).contiguous() : at::Tensor();
    TORCH_CHECK(k.stride(3) == 1 && v.stride(3) == 1, "decodeAttention: head dim must be dense");
    const std::int64_t batch = q.size(0), heads = q.size(1), steps = q.size(2), dim = q.size(3);
    const Scoring scoring{float(scale), float(softcap)};
    at::Tensor out = at::empty({batch, steps, heads * dim}, q.options());
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, q.scalar_type(), "decodeAttention", [&] {
        parallelKernel(batch * heads, 1, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t pair = begin; pair < end; ++pair)
                attendHead<scalar_t>(q, k, v, mask, bias, scoring, out, pair / heads, pair % heads);
        });
    });
    return out;
}

} // namespace corolla::ops
