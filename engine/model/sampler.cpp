#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace corolla {

Sampler::Sampler(const SamplingOptions &options)
    : m_options(options)
    , m_random(options.seed)
{
}

double Sampler::uniform()
{
    return double(m_random() >> 11) * (1.0 / 9007199254740992.0);
}

std::int64_t Sampler::next(const at::Tensor &logitsTensor, const std::vector<std::int64_t> &context)
{
    const at::Tensor contiguous = logitsTensor.to(at::kFloat).contiguous();
    const float *data = contiguous.data_ptr<float>();
    std::vector<double> logits(data, data + contiguous.numel());
    const std::int64_t vocab = std::int64_t(logits.size());

    if (m_options.repetitionPenalty != 1.0) {
        // CTRL's penalty: seen tokens become less likely whatever the sign of their logit.
        const std::unordered_set<std::int64_t> seen(context.begin(), context.end());
        for (std::int64_t id : seen) {
            if (id < 0 || id >= vocab)
                continue;
            double &value = logits[std::size_t(id)];
            value = value < 0 ? value * m_options.repetitionPenalty
                              : value / m_options.repetitionPenalty;
        }
    }
    if (m_options.temperature <= 0.0)
        return std::max_element(logits.begin(), logits.end()) - logits.begin();

    for (double &value : logits)
        value /= m_options.temperature;

    std::vector<std::int64_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return logits[a] > logits[b]; });

    std::size_t keep = order.size();
    if (m_options.topK > 0 && std::size_t(m_options.topK) < keep) {
        // Ties with the k-th value stay, as in Hugging Face.
        const double kth = logits[order[std::size_t(m_options.topK) - 1]];
        keep = std::size_t(m_options.topK);
        while (keep < order.size() && logits[order[keep]] == kth)
            ++keep;
    }

    const double maxLogit = logits[order[0]];
    std::vector<double> weights(keep);
    double total = 0.0;
    for (std::size_t i = 0; i < keep; ++i) {
        weights[i] = std::exp(logits[order[i]] - maxLogit);
        total += weights[i];
    }
    if (m_options.topP < 1.0) {
        // The smallest set of most likely tokens whose probability reaches top_p.
        double cumulative = 0.0;
        std::size_t nucleus = 0;
        while (nucleus < keep && cumulative < m_options.topP * total)
            cumulative += weights[nucleus++];
        keep = std::max<std::size_t>(1, nucleus);
        total = std::accumulate(weights.begin(), weights.begin() + std::ptrdiff_t(keep), 0.0);
    }

    const double target = uniform() * total;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < keep; ++i) {
        cumulative += weights[i];
        if (target < cumulative)
            return order[i];
    }
    return order[keep - 1];
}

} // namespace corolla
