// Sampling: greedy, determinism per seed, the order and effect of the processors, and the
// sampled distribution against the softmax it should follow.

#include <cmath>
#include <map>

#include <ATen/ops/tensor.h>

#include <QtTest>

#include "model/sampler.h"

using namespace corolla;

namespace {
at::Tensor logits(std::vector<float> values)
{
    return at::tensor(values, at::kFloat);
}
} // namespace

class TestSampler : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void greedyTakesTheMaximum()
    {
        Sampler sampler({});
        QCOMPARE(sampler.next(logits({0.1f, 3.0f, -1.0f, 2.9f}), {}), 1);
        QCOMPARE(sampler.next(logits({5.0f, 5.0f}), {}), 0); // ties: the first, like argmax
    }

    void repetitionPenaltyDividesPositiveAndMultipliesNegative()
    {
        SamplingOptions options;
        options.repetitionPenalty = 2.0;
        Sampler sampler(options);
        // Token 0 (4.0 -> 2.0) loses to token 1 (3.0); token 2 (-1 -> -2) stays below 3 (-1.5).
        QCOMPARE(sampler.next(logits({4.0f, 3.0f, -1.0f, -1.5f}), {0}), 1);
        QCOMPARE(sampler.next(logits({-3.0f, -3.0f, -1.0f, -1.5f}), {2}), 3);
    }

    void sameSeedSameTokens()
    {
        SamplingOptions options;
        options.temperature = 1.0;
        options.seed = 1234;
        Sampler a(options), b(options);
        options.seed = 99;
        Sampler c(options);
        const at::Tensor flat = logits(std::vector<float>(50, 0.0f));
        std::vector<std::int64_t> first, second, third;
        for (int i = 0; i < 40; ++i) {
            first.push_back(a.next(flat, {}));
            second.push_back(b.next(flat, {}));
            third.push_back(c.next(flat, {}));
        }
        QCOMPARE(first, second);
        QVERIFY(first != third);
    }

    void topKAndTopPRestrictTheCandidates()
    {
        SamplingOptions options;
        options.temperature = 1.0;
        options.topK = 2;
        Sampler topK(options);
        options.topK = 0;
        options.topP = 0.5; // token 3 alone holds ~0.6 of the mass
        Sampler topP(options);
        const at::Tensor values = logits({0.0f, 1.0f, 1.5f, 2.5f});
        for (int i = 0; i < 200; ++i) {
            const std::int64_t k = topK.next(values, {});
            QVERIFY(k == 2 || k == 3);
            QCOMPARE(topP.next(values, {}), 3);
        }
    }

    void samplesFollowTheSoftmax()
    {
        SamplingOptions options;
        options.temperature = 0.5;
        options.seed = 7;
        Sampler sampler(options);
        const std::vector<float> values = {0.0f, 0.5f, 1.0f, -0.5f};
        std::vector<double> expected;
        double total = 0;
        for (float v : values)
            total += std::exp(v / 0.5);
        for (float v : values)
            expected.push_back(std::exp(v / 0.5) / total);
        std::map<std::int64_t, int> counts;
        constexpr int kDraws = 20000;
        for (int i = 0; i < kDraws; ++i)
            ++counts[sampler.next(logits(values), {})];
        for (std::size_t id = 0; id < values.size(); ++id) {
            const double frequency = double(counts[std::int64_t(id)]) / kDraws;
            // Five standard deviations of a binomial proportion.
            const double sigma = std::sqrt(expected[id] * (1 - expected[id]) / kDraws);
            QVERIFY2(
                std::abs(frequency - expected[id]) < 5 * sigma,
                qPrintable(
                    QStringLiteral("token %1: %2 vs %3").arg(id).arg(frequency).arg(expected[id])));
        }
    }
};

QTEST_GUILESS_MAIN(TestSampler)
#include "testsampler.moc"
