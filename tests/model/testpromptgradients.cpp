// Deep prompts in the blocks: the forward pass against the plain reference with the prompts
// added, steps that cross the prefix against one forward, and the gradients of the inputs and
// of the prompts against central differences of the double-precision reference, for every
// family, with a padded batch.

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

#include <QtTest>

#include "loader/tensorsource.h"
#include "model/blockspan.h"
#include "model/families.h"
#include "model/referencemodel.h"

using namespace corolla;
using namespace corolla::testing;

namespace {

constexpr std::int64_t kFrom = 1, kTo = 3, kPrefix = 3;

reference::Weights doubleWeights(const Family &f)
{
    reference::Weights weights;
    for (const auto &[name, tensor] : f.weights)
        weights[name] = tensor.to(at::kDouble);
    return weights;
}

// Prompts of sequence b ([blocks, P, hidden]) from DeepPrompts that may be shared.
at::Tensor promptsOf(const at::Tensor &prompts, std::int64_t b)
{
    return prompts.select(1, prompts.size(1) == 1 ? 0 : b);
}

// d f / d t by central differences, one element at a time, in double.
at::Tensor centralDifferences(const at::Tensor &t,
                              const std::function<double(const at::Tensor &)> &f)
{
    const double eps = 1e-5;
    at::Tensor flat = t.to(at::kDouble).contiguous().view(-1);
    at::Tensor gradient = at::zeros_like(flat);
    for (std::int64_t i = 0; i < flat.numel(); ++i) {
        at::Tensor plus = flat.clone(), minus = flat.clone();
        plus[i] += eps;
        minus[i] -= eps;
        gradient[i] = (f(plus.view(t.sizes())) - f(minus.view(t.sizes()))) / (2 * eps);
    }
    return gradient.view(t.sizes());
}

double relativeError(const at::Tensor &got, const at::Tensor &expected)
{
    return maxAbsDiff(got, expected) / expected.abs().max().item<double>();
}

} // namespace

class TestPromptGradients : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void families_data() { addFamilyRows(); }

    void forwardAddsThePrompts_data() { families_data(); }
    void forwardAddsThePrompts()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 21);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        const std::int64_t hidden = f.config.hiddenSize;
        const at::Tensor x = randomHidden({2, 7, hidden}, 1);
        const std::vector<std::int64_t> lengths = {7, 5};
        // One set of prompts shared by the batch, and one per sequence.
        for (const at::Tensor &prompts : {randomHidden({kTo - kFrom, 1, kPrefix, hidden}, 2),
                                          randomHidden({kTo - kFrom, 2, kPrefix, hidden}, 3)}) {
            auto ours = (*span)->forward(x, lengths, kFrom, kTo, {.prompts = prompts});
            QVERIFY2(ours.ok(), ours.ok() ? "" : ours.error().message.c_str());
            for (std::int64_t b = 0; b < 2; ++b) {
                const std::int64_t n = lengths[std::size_t(b)];
                const at::Tensor expected = reference::blocksWithPrompts(
                    f.config, f.weights, x[b].narrow(0, 0, n), kFrom, kTo, promptsOf(prompts, b));
                const double diff = maxAbsDiff((*ours)[b].narrow(0, 0, n), expected);
                QVERIFY2(diff <= 1e-5, qPrintable(QString::number(diff)));
            }
            // The prompts change the answer: the test above could not pass without them.
            auto plain = (*span)->forward(x, lengths, kFrom, kTo);
            QVERIFY(maxAbsDiff(*plain, *ours) > 1e-3);
        }
    }

    void stepsAcrossThePrefixEqualOneForward_data() { families_data(); }
    void stepsAcrossThePrefixEqualOneForward()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 22);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        const at::Tensor x = randomHidden({2, 6, f.config.hiddenSize}, 4);
        const at::Tensor prompts = randomHidden({kTo - kFrom, 2, kPrefix, f.config.hiddenSize}, 5);
        auto whole = (*span)->forward(x, {6, 6}, kFrom, kTo, {.prompts = prompts});
        QVERIFY(whole.ok());
        // Steps of 2, 2 and 2 tokens: inside the prefix, across its end, after it. The second
        // sequence runs one token behind, so the batch's sequences start at different positions.
        KvCache cache = (*span)->makeCache(2, 8, kFrom, kTo);
        std::vector<at::Tensor> first, second;
        std::int64_t done[2] = {0, 0};
        for (const auto &[a, b] : {std::pair<std::int64_t, std::int64_t>{2, 1}, {2, 2}, {2, 3}}) {
            const std::int64_t rows = std::max(a, b);
            at::Tensor step = at::zeros({2, rows, f.config.hiddenSize});
            step[0].narrow(0, 0, a).copy_(x[0].narrow(0, done[0], a));
            step[1].narrow(0, 0, b).copy_(x[1].narrow(0, done[1], b));
            auto out = (*span)->step(step, cache, {a, b}, kFrom, kTo, {.prompts = prompts});
            QVERIFY2(out.ok(), out.ok() ? "" : out.error().message.c_str());
            first.push_back((*out)[0].narrow(0, 0, a));
            second.push_back((*out)[1].narrow(0, 0, b));
            done[0] += a;
            done[1] += b;
        }
        QVERIFY(maxAbsDiff(at::cat(first), (*whole)[0]) <= 1e-5);
        QVERIFY(maxAbsDiff(at::cat(second), (*whole)[1]) <= 1e-5);
    }

    void gradientsMatchTheReference_data() { families_data(); }
    void gradientsMatchTheReference()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 23);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, kFrom, kTo, at::kFloat);
        QVERIFY(span.ok());
        const std::int64_t hidden = f.config.hiddenSize;
        const std::vector<std::int64_t> lengths = {5, 2}; // the second is shorter than the prefix
        const at::Tensor x = randomHidden({2, 5, hidden}, 6);
        const at::Tensor g = randomHidden({2, 5, hidden}, 7);
        const at::Tensor prompts = randomHidden({kTo - kFrom, 2, kPrefix, hidden}, 8);
        auto ours = (*span)->backward(x, g, lengths, kFrom, kTo, {.prompts = prompts});
        QVERIFY2(ours.ok(), ours.ok() ? "" : ours.error().message.c_str());
        QCOMPARE(ours->input.sizes(), x.sizes());
        QCOMPARE(ours->prompts.sizes(), prompts.sizes());

        const reference::Weights weights = doubleWeights(f);
        for (std::int64_t b = 0; b < 2; ++b) {
            const std::int64_t n = lengths[std::size_t(b)];
            const at::Tensor xb = x[b].narrow(0, 0, n).to(at::kDouble);
            const at::Tensor gb = g[b].narrow(0, 0, n).to(at::kDouble);
            const at::Tensor pb = promptsOf(prompts, b).to(at::kDouble);
            auto loss = [&](const at::Tensor &input, const at::Tensor &p) {
                return (reference::blocksWithPrompts(f.config, weights, input, kFrom, kTo, p) * gb)
                    .sum()
                    .item<double>();
            };
            const at::Tensor inputGradient =
                centralDifferences(xb, [&](const at::Tensor &t) { return loss(t, pb); });
            const at::Tensor promptGradient =
                centralDifferences(pb, [&](const at::Tensor &t) { return loss(xb, t); });
            const double inputError = relativeError(ours->input[b].narrow(0, 0, n), inputGradient);
            const double promptError = relativeError(ours->prompts.select(1, b), promptGradient);
            QVERIFY2(inputError <= 1e-4 && promptError <= 1e-4,
                     qPrintable(QStringLiteral("sequence %1: input %2, prompts %3")
                                    .arg(b)
                                    .arg(inputError)
                                    .arg(promptError)));
            // Padding rows get nothing.
            if (n < x.size(1))
                QCOMPARE(ours->input[b].narrow(0, n, x.size(1) - n).abs().max().item<float>(),
                         0.0f);
        }
        // Prompt rows past the second sequence's 2 tokens touch nothing the loss sees.
        QCOMPARE(ours->prompts.select(1, 1).narrow(1, 2, 1).abs().max().item<float>(), 0.0f);
    }

    void sharedPromptsSumTheBatchGradients()
    {
        const Family f = makeFamily("llama", 24);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, kFrom, kTo, at::kFloat);
        QVERIFY(span.ok());
        const at::Tensor x = randomHidden({2, 4, f.config.hiddenSize}, 9);
        const at::Tensor g = randomHidden({2, 4, f.config.hiddenSize}, 10);
        const at::Tensor shared = randomHidden({kTo - kFrom, 1, kPrefix, f.config.hiddenSize}, 11);
        auto together = (*span)->backward(x, g, {4, 4}, kFrom, kTo, {.prompts = shared});
        auto expanded = (*span)->backward(x, g, {4, 4}, kFrom, kTo,
                                          {.prompts = shared.expand({-1, 2, -1, -1}).contiguous()});
        QVERIFY(together.ok() && expanded.ok());
        QCOMPARE(together->prompts.sizes(), shared.sizes());
        QVERIFY(maxAbsDiff(together->prompts, expanded->prompts.sum(1, true)) <= 1e-5);
    }

    void rejectsBadPrompts()
    {
        const Family f = makeFamily("llama", 25);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        const std::int64_t hidden = f.config.hiddenSize;
        const at::Tensor x = randomHidden({2, 4, hidden}, 12);
        for (const at::Tensor &bad : {randomHidden({3, 1, 2, hidden}, 1), // three blocks for two
                                      randomHidden({2, 3, 2, hidden}, 1), // three sequences for two
                                      randomHidden({2, 1, 2, hidden + 1}, 1), // the wrong width
                                      randomHidden({2, 1, 0, hidden}, 1),     // an empty prefix
                                      randomHidden({2, 2, hidden}, 1),        // no batch dimension
                                      randomHidden({2, 1, 2, hidden}, 1).to(at::kDouble)}) {
            auto forward = (*span)->forward(x, {4, 4}, kFrom, kTo, {.prompts = bad});
            QVERIFY(!forward.ok());
            QVERIFY2(forward.error().message.find("deep prompts") != std::string::npos,
                     forward.error().message.c_str());
            QVERIFY(!(*span)->backward(x, x, {4, 4}, kFrom, kTo, {.prompts = bad}).ok());
            KvCache cache = (*span)->makeCache(2, 8, kFrom, kTo);
            QVERIFY(!(*span)->step(x, cache, {4, 4}, kFrom, kTo, {.prompts = bad}).ok());
            QCOMPARE(cache.lengths(), (std::vector<std::int64_t>{0, 0}));
        }
    }
};

QTEST_GUILESS_MAIN(TestPromptGradients)
#include "testpromptgradients.moc"
