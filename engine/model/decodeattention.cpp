#include "model/decodeattention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>

#include "model/kernelthreads.h"

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
    for (std::int64_t t = 0; t < steps; ++t) {
        const Scalar *queryRow = q.data_ptr<Scalar>() + ((b * heads + h) * steps + t) * dim;
        for (std::int64_t d = 0; d < dim; ++d)
            query[std::size_t(d)] = float(queryRow[d]);
        const float *maskRow = mask.data_ptr<float>() + (b * steps + t) * context;

        // scores_j = scoring(q . k_j) + bias_j + mask_j, then a numerically stable softmax.
        float maximum = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j < context; ++j) {
            float score = -std::numeric_limits<float>::infinity();
            if (maskRow[j] != -std::numeric_limits<float>::infinity()) {
                score = scoring(dot(query.data(), keys + j * keyStride, dim))
                        + (biasRow ? biasRow[j] : 0.0f) + maskRow[j];
            }
            scores[std::size_t(j)] = score;
            maximum = std::max(maximum, score);
        }
        float total = 0.0f;
        for (std::int64_t j = 0; j < context; ++j) {
            const float weight = scores[std::size_t(j)] == -std::numeric_limits<float>::infinity()
                                     ? 0.0f
                                     : std::exp(scores[std::size_t(j)] - maximum);
            scores[std::size_t(j)] = weight;
            total += weight;
        }

        std::fill(accumulated.begin(), accumulated.end(), 0.0f);
        for (std::int64_t j = 0; j < context; ++j) {
            const float weight = scores[std::size_t(j)] / total;
            if (weight == 0.0f)
                continue;
            const Scalar *value = values + j * valueStride;
            for (std::int64_t d = 0; d < dim; ++d)
                accumulated[std::size_t(d)] += weight * float(value[d]);
        }
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
