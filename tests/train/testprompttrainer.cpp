// Prompt tuning on this machine: the loss and the prompts' gradients of a padded batch against
// the double-precision reference (central differences), chunks and gradient accumulation that
// leave the update unchanged, AdamW and its schedule against their formulas, and a tiny
// model taught a toy mapping with deep prompts until greedy generation produces it.

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/tensor.h>

#include <QtTest>

#include "loader/tensorsource.h"
#include "model/families.h"
#include "model/generation.h"
#include "model/localmodel.h"
#include "model/referencemodel.h"
#include "train/promptedrunner.h"
#include "train/prompttrainer.h"
#include "train/trainingexamples.h"

using namespace corolla;
using namespace corolla::testing;

namespace {

constexpr std::int64_t kPrefix = 3;

struct Setup {
    Family family;
    std::unique_ptr<LocalModel> model;
    reference::Weights weights; // in double
};

Setup makeSetup(const QString &name, std::uint64_t seed)
{
    Setup s{familyByName(name, seed), nullptr, {}};
    auto model =
        LocalModel::fromSource(s.family.config, MemoryTensorSource(s.family.weights), at::kFloat);
    if (!model)
        qFatal("%s", model.error().message.c_str());
    s.model = std::move(*model);
    for (const auto &[tensorName, tensor] : s.family.weights)
        s.weights[tensorName] = tensor.to(at::kDouble);
    return s;
}

TrainablePrompts makePrompts(const Setup &s, PromptMethod method)
{
    auto prompts = TrainablePrompts::initial(s.family.config, s.model->head(), method, kPrefix, 5);
    if (!prompts)
        qFatal("%s", prompts.error().message.c_str());
    // Deep prompts away from zero, so that their effect on the loss is not a special case.
    if (prompts->deep.defined())
        prompts->deep.copy_(randomHidden(prompts->deep.sizes().vec(), 6) * 0.3);
    return *prompts;
}

// The summed cross-entropy of the examples' targets with prompts `prefix` [P, hidden] and
// `deep` [blocks, P, hidden] (or undefined), all in double through the reference model.
double referenceLoss(const Setup &s, const at::Tensor &prefix, const at::Tensor &deep,
                     const std::vector<TrainingExample> &examples)
{
    const ModelConfig &config = s.family.config;
    double loss = 0;
    for (const TrainingExample &example : examples) {
        const at::Tensor x = at::cat({prefix, reference::embed(config, s.weights, example.ids)});
        const at::Tensor h =
            deep.defined()
                ? reference::blocksWithPrompts(config, s.weights, x, 0, config.numLayers, deep)
                : reference::blocks(config, s.weights, x, 0, config.numLayers);
        const at::Tensor logProbabilities =
            at::log_softmax(reference::head(config, s.weights, h), 1);
        for (std::size_t t = 1; t < example.ids.size(); ++t) {
            if (example.target[t])
                loss -=
                    logProbabilities[kPrefix + std::int64_t(t) - 1][example.ids[t]].item<double>();
        }
    }
    return loss;
}

// Central differences of `loss` at a few elements of `t` (spread over it), against `gradient`.
void checkSomeElements(const at::Tensor &t, const at::Tensor &gradient,
                       const std::function<double(const at::Tensor &)> &loss)
{
    const double eps = 1e-5, scale = gradient.abs().max().item<double>();
    QVERIFY(scale > 0);
    const at::Tensor flat = t.to(at::kDouble).contiguous().view(-1);
    const at::Tensor flatGradient = gradient.to(at::kDouble).contiguous().view(-1);
    const std::int64_t count = flat.numel();
    for (std::int64_t k = 0; k < 8; ++k) {
        const std::int64_t i = (k * 7919 + 13) % count;
        at::Tensor plus = flat.clone(), minus = flat.clone();
        plus[i] += eps;
        minus[i] -= eps;
        const double expected =
            (loss(plus.view(t.sizes())) - loss(minus.view(t.sizes()))) / (2 * eps);
        const double got = flatGradient[i].item<double>();
        QVERIFY2(std::abs(got - expected) <= 2e-4 * scale,
                 qPrintable(QStringLiteral("element %1: %2 against %3 (scale %4)")
                                .arg(i)
                                .arg(got)
                                .arg(expected)
                                .arg(scale)));
    }
}

std::unique_ptr<PromptTrainer> makeTrainer(const Setup &s, TrainablePrompts &prompts,
                                           std::vector<TrainingBlocks *> blocks,
                                           const std::vector<TrainingExample> &examples,
                                           TrainingOptions options)
{
    auto trainer =
        PromptTrainer::create(s.model->head(), prompts, std::move(blocks), examples, options);
    if (!trainer)
        qFatal("%s", trainer.error().message.c_str());
    return std::move(*trainer);
}

void methods_data()
{
    QTest::addColumn<QString>("family");
    QTest::addColumn<QString>("method");
    for (const char *family : {"llama", "bloom"}) {
        for (const char *method : {"ptune", "deep_ptune"})
            QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(family, method)))
                << QString::fromLatin1(family) << QString::fromLatin1(method);
    }
}

PromptMethod methodOf(const QString &name)
{
    return *promptMethodFromName(name.toStdString());
}

} // namespace

class TestPromptTrainer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void gradientsMatchTheReference_data() { methods_data(); }
    void gradientsMatchTheReference()
    {
        QFETCH(QString, family);
        QFETCH(QString, method);
        const Setup s = makeSetup(family, 31);
        TrainablePrompts prompts = makePrompts(s, methodOf(method));
        const auto examples = scatteredExamples(s.family.config.vocabSize);
        LocalTrainingBlocks blocks(s.model->blocks());
        auto trainer = makeTrainer(s, prompts, {&blocks}, examples, {});
        auto gradients = trainer->gradients(pointers(examples));
        QVERIFY2(gradients, gradients ? "" : gradients.error().message.c_str());

        std::int64_t targets = 0;
        for (const TrainingExample &example : examples)
            targets += example.targets();
        QCOMPARE(gradients->targets, targets);
        const at::Tensor prefix = prompts.prefix.to(at::kDouble);
        const at::Tensor deep =
            prompts.deep.defined() ? prompts.deep.squeeze(1).to(at::kDouble) : at::Tensor();
        const double expected = referenceLoss(s, prefix, deep, examples);
        QVERIFY2(std::abs(gradients->lossSum - expected) <= 1e-5 * std::abs(expected),
                 qPrintable(QStringLiteral("%1 against %2").arg(gradients->lossSum).arg(expected)));

        checkSomeElements(prefix, gradients->prefix,
                          [&](const at::Tensor &p) { return referenceLoss(s, p, deep, examples); });
        QCOMPARE(gradients->deep.defined(), prompts.deep.defined());
        if (deep.defined()) {
            QCOMPARE(gradients->deep.sizes(), prompts.deep.sizes());
            checkSomeElements(deep, gradients->deep.squeeze(1), [&](const at::Tensor &d) {
                return referenceLoss(s, prefix, d, examples);
            });
        }
    }

    void chunksAndMicroBatchesGiveTheSameUpdate_data() { methods_data(); }
    void chunksAndMicroBatchesGiveTheSameUpdate()
    {
        QFETCH(QString, family);
        QFETCH(QString, method);
        const Setup s = makeSetup(family, 32);
        const auto examples = scatteredExamples(s.family.config.vocabSize);
        LocalTrainingBlocks first(s.model->blocks()), second(s.model->blocks());
        const TrainingOptions whole{.steps = 4, .batchSize = 4, .learningRate = 1e-2, .seed = 3};
        TrainingOptions split = whole;
        split.microBatchSize = 3; // micro-batches of 3 and 1

        TrainablePrompts a = makePrompts(s, methodOf(method)), b = makePrompts(s, methodOf(method));
        auto one = makeTrainer(s, a, {&first}, examples, whole);
        auto two = makeTrainer(s, b, {&first, &second}, examples, split);
        for (int step = 0; step < 2; ++step) {
            auto x = one->step(), y = two->step();
            QVERIFY(x && y);
            QCOMPARE(x->targets, y->targets);
            QVERIFY(std::abs(x->loss - y->loss) <= 1e-5 * x->loss);
            QCOMPARE(x->learningRate, y->learningRate);
            QVERIFY(std::abs(x->gradNorm - y->gradNorm) <= 1e-5 * x->gradNorm);
        }
        const double moved = maxAbsDiff(a.prefix, makePrompts(s, methodOf(method)).prefix);
        QVERIFY(moved > 1e-3);
        QVERIFY(maxAbsDiff(a.prefix, b.prefix) <= 1e-4 * moved);
        if (a.deep.defined())
            QVERIFY(maxAbsDiff(a.deep, b.deep) <= 1e-4 * moved);
    }

    void adamWFollowsItsFormula()
    {
        at::Tensor p = at::tensor({1.0f, -2.0f}), g1 = at::tensor({0.5f, 0.1f}),
                   g2 = at::tensor({-0.2f, 0.3f});
        AdamW adam({p}, AdamWOptions{.weightDecay = 0.1});
        adam.step({g1}, 0.01);
        adam.step({g2}, 0.02);
        for (int i = 0; i < 2; ++i) {
            const double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
            double value = i == 0 ? 1.0 : -2.0, m = 0, v = 0;
            const double gs[2] = {g1[i].item<double>(), g2[i].item<double>()};
            const double lrs[2] = {0.01, 0.02};
            for (int t = 1; t <= 2; ++t) {
                const double g = gs[t - 1], lr = lrs[t - 1];
                value *= 1 - lr * wd;
                m = b1 * m + (1 - b1) * g;
                v = b2 * v + (1 - b2) * g * g;
                value -=
                    lr * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
            }
            QVERIFY(std::abs(p[i].item<double>() - value) < 1e-6);
        }
        QCOMPARE(adam.steps(), 2);
    }

    void scheduleWarmsUpAndDecays()
    {
        // Two warm-up steps to the peak, then a straight line to zero after step ten.
        const double expected[] = {1.0 / 3, 2.0 / 3, 1.0,     7.0 / 8, 6.0 / 8,
                                   5.0 / 8, 4.0 / 8, 3.0 / 8, 2.0 / 8, 1.0 / 8};
        for (int step = 0; step < 10; ++step)
            QVERIFY(std::abs(scheduledLearningRate(1.0, step, 2, 10) - expected[step]) < 1e-12);
        QCOMPARE(scheduledLearningRate(0.5, 0, 0, 4), 0.5);
    }

    void clippingScalesTheJointNorm()
    {
        std::vector<at::Tensor> gradients{at::tensor({3.0f}), at::tensor({0.0f, 4.0f})};
        QCOMPARE(clipGradientNorm(gradients, 1.0), 5.0);
        QVERIFY(std::abs(gradients[0].item<double>() - 0.6) < 1e-6);
        QVERIFY(std::abs(gradients[1][1].item<double>() - 0.8) < 1e-6);
        QVERIFY(std::abs(clipGradientNorm(gradients, 10.0) - 1.0) < 1e-6); // under the limit
        QVERIFY(std::abs(gradients[0].item<double>() - 0.6) < 1e-6);
    }

    void badOptionsAreRefused()
    {
        const Setup s = makeSetup("llama", 33);
        TrainablePrompts prompts = makePrompts(s, PromptMethod::PTune);
        const auto examples = scatteredExamples(s.family.config.vocabSize);
        LocalTrainingBlocks blocks(s.model->blocks());
        auto check = [&](TrainingOptions options, std::vector<TrainingBlocks *> list,
                         const std::vector<TrainingExample> &data, const char *expected) {
            auto trainer =
                PromptTrainer::create(s.model->head(), prompts, std::move(list), data, options);
            QVERIFY(!trainer);
            QVERIFY2(trainer.error().message.find(expected) != std::string::npos,
                     trainer.error().message.c_str());
        };
        check({.steps = 0}, {&blocks}, examples, "positive");
        check({.batchSize = 0}, {&blocks}, examples, "positive");
        check({.learningRate = -1}, {&blocks}, examples, "learning rate");
        check({.learningRate = std::nan("")}, {&blocks}, examples, "learning rate");
        check({}, {}, examples, "blocks");
        check({}, {&blocks}, {}, "no training examples");
    }

    // Deep prompts learn to answer each of three letters with its own: greedy generation
    // behind the prompts produces the taught completions, which it did not before.
    void deepPromptsLearnAToyMapping()
    {
        const Setup s = makeSetup("llama", 34);
        const std::vector<std::pair<std::int64_t, std::int64_t>> mapping{
            {10, 40}, {20, 50}, {30, 60}};
        const std::int64_t bos = 1, eos = 2;
        std::vector<TrainingExample> examples;
        for (const auto &[from, to] : mapping)
            examples.push_back({{bos, from, to, eos}, {0, 0, 1, 1}});

        auto generated = [&](const TrainablePrompts &prompts, std::int64_t from) {
            auto inner =
                std::make_unique<LocalBlockRunner>(s.model->blocks(), 20, prompts.deep.clone());
            PromptedRunner runner(std::move(inner), prompts.prefix.clone());
            std::vector<std::int64_t> tokens;
            GenerationOptions options;
            options.maxNewTokens = 2;
            auto stats =
                generate(s.model->head(), runner, {bos, from}, options, [&](std::int64_t token) {
                    tokens.push_back(token);
                    return true;
                });
            if (!stats)
                qFatal("%s", stats.error().message.c_str());
            return tokens;
        };
        auto taught = [&](const TrainablePrompts &prompts) {
            int right = 0;
            for (const auto &[from, to] : mapping)
                right += generated(prompts, from) == std::vector<std::int64_t>{to, eos};
            return right;
        };

        TrainablePrompts prompts = *TrainablePrompts::initial(s.family.config, s.model->head(),
                                                              PromptMethod::DeepPTune, 8, 7);
        QVERIFY(taught(prompts) < int(mapping.size()));
        LocalTrainingBlocks blocks(s.model->blocks());
        auto trainer = makeTrainer(s, prompts, {&blocks}, examples,
                                   {.steps = 150, .batchSize = 3, .learningRate = 0.1});
        double first = 0, last = 0;
        for (int step = 0; step < 150; ++step) {
            auto report = trainer->step();
            QVERIFY2(report, report ? "" : report.error().message.c_str());
            (step == 0 ? first : last) = report->loss;
        }
        QVERIFY2(last < 0.3 * first, qPrintable(QStringLiteral("%1 -> %2").arg(first).arg(last)));
        QCOMPARE(taught(prompts), int(mapping.size()));
    }
};

QTEST_GUILESS_MAIN(TestPromptTrainer)
#include "testprompttrainer.moc"
