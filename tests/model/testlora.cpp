// LoRA adapters in the blocks: forward passes, cached steps and gradients with an adapter
// equal those of the merged weights W + (alpha / r) B A for every family; adapters of some
// modules and some blocks; and adapters that are malformed or do not fit, refused with an
// error that says why.

#include <fstream>

#include <ATen/TensorOperators.h>
#include <ATen/ops/full.h>

#include <QTemporaryDir>
#include <QtTest>

#include "loader/safetensorswriter.h"
#include "loader/tensorsource.h"
#include "model/blockspan.h"
#include "model/families.h"
#include "testmodel/testadapter.h"

using namespace corolla;
using namespace corolla::testing;

namespace {

double relativeDifference(const at::Tensor &got, const at::Tensor &expected)
{
    return maxAbsDiff(got, expected) / expected.abs().max().item<double>();
}

std::unique_ptr<BlockSpan> loadSpan(const Family &f,
                                    const std::map<std::string, at::Tensor> &weights,
                                    std::int64_t begin, std::int64_t end)
{
    auto span = BlockSpan::load(f.config, MemoryTensorSource(weights), begin, end, at::kFloat);
    if (!span)
        qFatal("%s", span.error().message.c_str());
    return std::move(*span);
}

void writeText(const QString &path, const std::string &text)
{
    std::ofstream(path.toStdString(), std::ios::binary) << text;
}

} // namespace

class TestLora : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    // The adapter of `spec` for `f`, written and loaded for blocks [begin, end).
    LoraAdapter adapterFor(const Family &f, const TestAdapterSpec &spec, std::int64_t begin,
                           std::int64_t end)
    {
        const std::string folder = m_dir.filePath(QStringLiteral("adapter")).toStdString();
        if (auto written = writeTestAdapter(folder, f.config, spec); !written)
            qFatal("%s", written.error().message.c_str());
        auto adapter = LoraAdapter::load(folder, "test/adapter", f.config, begin, end, at::kFloat);
        if (!adapter)
            qFatal("%s", adapter.error().message.c_str());
        return std::move(*adapter);
    }

    // An adapter folder with this config text and these tensors; what loading it says.
    std::string refusal(const Family &f, const std::string &configText,
                        const std::map<std::string, at::Tensor> &tensors)
    {
        const QString folder = m_dir.filePath(QStringLiteral("bad"));
        QDir(folder).removeRecursively();
        QDir().mkpath(folder);
        writeText(folder + QStringLiteral("/adapter_config.json"), configText);
        if (!tensors.empty()) {
            const auto written = writeSafetensors(
                (folder + QStringLiteral("/adapter_model.safetensors")).toStdString(), tensors);
            if (!written)
                return "the fixture was not written: " + written.error().message;
        }
        auto adapter = LoraAdapter::load(folder.toStdString(), "bad", f.config, 0,
                                         f.config.numLayers, at::kFloat);
        return adapter ? std::string("loaded") : adapter.error().message;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void families_data() { addFamilyRows(); }

    void adapterEqualsMergedWeights_data() { families_data(); }
    void adapterEqualsMergedWeights()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 41);
        const TestAdapterSpec spec{.rank = 4, .alpha = 8, .seed = 3};
        const LoraAdapter adapter = adapterFor(f, spec, 0, f.config.numLayers);
        QCOMPARE(adapter.scale(), 2.0);
        const auto span = loadSpan(f, f.weights, 0, f.config.numLayers);
        const auto merged =
            loadSpan(f, mergeTestAdapter(f.weights, f.config, spec), 0, f.config.numLayers);
        const std::int64_t from = 0, to = f.config.numLayers;

        const at::Tensor x = randomHidden({2, 6, f.config.hiddenSize}, 5);
        const std::vector<std::int64_t> lengths{6, 4};
        const at::Tensor expected = *merged->forward(x, lengths);
        const at::Tensor got = *span->forward(x, lengths, from, to, {.adapter = &adapter});
        const at::Tensor plain = *span->forward(x, lengths);
        QVERIFY(relativeDifference(got.narrow(1, 0, 4), expected.narrow(1, 0, 4)) < 1e-5);
        QVERIFY(relativeDifference(plain, expected) > 1e-2); // the adapter matters

        // Cached steps: a prompt, then one token at a time.
        KvCache cache = span->makeCache(1, 8);
        KvCache mergedCache = merged->makeCache(1, 8);
        for (auto [begin, count] : {std::pair<std::int64_t, std::int64_t>{0, 4}, {4, 1}, {5, 1}}) {
            const at::Tensor part = x.narrow(0, 0, 1).narrow(1, begin, count);
            const at::Tensor stepped =
                *span->step(part, cache, {count}, from, to, {.adapter = &adapter});
            const at::Tensor reference = *merged->step(part, mergedCache, {count});
            QVERIFY(relativeDifference(stepped, reference) < 1e-5);
        }

        // Gradients of the inputs, recomputed with the adapter.
        const at::Tensor g = randomHidden({2, 6, f.config.hiddenSize}, 6);
        const auto gradients = span->backward(x, g, lengths, from, to, {.adapter = &adapter});
        QVERIFY2(gradients, gradients ? "" : gradients.error().message.c_str());
        const at::Tensor expectedGradient = merged->backward(x, g, lengths, from, to)->input;
        QVERIFY(relativeDifference(gradients->input, expectedGradient) < 1e-5);
    }

    void someModulesOfSomeBlocks()
    {
        const Family f = familyByName(QStringLiteral("llama"), 42);
        // q and v share the fused projection with k, which stays as it is.
        const TestAdapterSpec spec{
            .rank = 2, .alpha = 16, .modules = {"q_proj", "v_proj"}, .seed = 4};
        const LoraAdapter adapter = adapterFor(f, spec, 1, 3);
        QCOMPARE(adapter.modules(), (std::vector<std::string>{"q_proj", "v_proj"}));
        QCOMPARE(adapter.scale(), 8.0);
        QVERIFY(adapter.weights(1, Projection::AttentionIn));
        QVERIFY(!adapter.weights(1, Projection::MlpOut));
        QVERIFY(!adapter.weights(0, Projection::AttentionIn)); // not loaded for block 0
        const auto span = loadSpan(f, f.weights, 1, 3);
        const auto merged = loadSpan(f, mergeTestAdapter(f.weights, f.config, spec), 1, 3);
        const at::Tensor x = randomHidden({1, 5, f.config.hiddenSize}, 7);
        const at::Tensor got = *span->forward(x, {5}, 1, 3, {.adapter = &adapter});
        QVERIFY(relativeDifference(got, *merged->forward(x, {5})) < 1e-5);

        // Blocks the adapter was not loaded for are refused, not run without it.
        const auto wider = loadSpan(f, f.weights, 0, 3);
        const auto refused = wider->forward(x, {5}, 0, 3, {.adapter = &adapter});
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.find("loaded for blocks [1, 3)") != std::string::npos,
                 refused.error().message.c_str());
    }

    void rsLoraScalesBySquareRoot()
    {
        const Family f = familyByName(QStringLiteral("llama"), 43);
        const QString folder = m_dir.filePath(QStringLiteral("rslora"));
        QVERIFY(writeTestAdapter(folder.toStdString(), f.config, {.rank = 4, .alpha = 8}));
        writeText(folder + QStringLiteral("/adapter_config.json"),
                  "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_rslora\": true}");
        auto adapter = LoraAdapter::load(folder.toStdString(), "rs", f.config, 0, 1, at::kFloat);
        QVERIFY(adapter);
        QCOMPARE(adapter->scale(), 4.0);
    }

    void badAdaptersAreRefused()
    {
        const Family f = familyByName(QStringLiteral("llama"), 44);
        const auto good = makeTestAdapterWeights(f.config, {.rank = 4, .modules = {"q_proj"}});
        const std::string config = "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, "
                                   "\"target_modules\": [\"q_proj\"]}";
        auto check = [&](const std::string &text, const std::map<std::string, at::Tensor> &tensors,
                         const std::string &why) {
            const std::string said = refusal(f, text, tensors);
            QVERIFY2(said.find(why) != std::string::npos, said.c_str());
        };
        QCOMPARE(refusal(f, config, good), std::string("loaded"));
        check("{\"r\": 4", good, "not a JSON object");
        check("{\"peft_type\": \"LORA\", \"lora_alpha\": 8}", good, "\"r\" must be a positive");
        check("{\"r\": 4, \"lora_alpha\": -1}", good, "\"lora_alpha\" must be a positive");
        check("{\"peft_type\": \"IA3\", \"r\": 4, \"lora_alpha\": 8}", good, "only LORA");
        check("{\"r\": 4, \"lora_alpha\": 8, \"use_dora\": true}", good, "DoRA");
        check("{\"r\": 4, \"lora_alpha\": 8, \"fan_in_fan_out\": true}", good, "fan_in_fan_out");
        check("{\"r\": 4, \"lora_alpha\": 8, \"modules_to_save\": [\"lm_head\"]}", good,
              "modules_to_save");
        check("{\"r\": 4, \"lora_alpha\": 8, \"rank_pattern\": {\"q_proj\": 8}}", good,
              "rank_pattern");
        check("{\"r\": 8, \"lora_alpha\": 8}", good, "not [8, ");
        check("{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"v_proj\"]}", good,
              "q_proj is not among the target_modules");

        const std::string prefix = "base_model.model.model.layers.0.self_attn.q_proj.";
        auto with = [&](const std::string &name, const at::Tensor &tensor) {
            auto tensors = good;
            tensors[name] = tensor;
            return tensors;
        };
        check(config, with("base_model.model.lm_head.lora_A.weight", at::full({4, 8}, 0.1f)),
              "outside the transformer blocks");
        check(config,
              with("base_model.model.model.layers.0.self_attn.rotary.lora_A.weight",
                   at::full({4, 8}, 0.1f)),
              "not a projection of this model's blocks");
        check(config,
              with("base_model.model.model.layers.0.self_attn.q_proj.bias", at::full({4}, 0.f)),
              "unexpected tensor");
        const at::Tensor a = good.at(prefix + "lora_A.weight");
        check(config, with(prefix + "lora_A.weight", a / 0.0f - a / 0.0f), "NaN");
        auto onlyA = good;
        onlyA.erase(prefix + "lora_B.weight");
        check(config, onlyA, "has lora_A without lora_B");
        check(config, {}, "adapter_model.safetensors"); // no weights file at all

        auto missing = LoraAdapter::load(m_dir.filePath(QStringLiteral("nowhere")).toStdString(),
                                         "x", f.config, 0, 1, at::kFloat);
        QVERIFY(!missing);
        QVERIFY(missing.error().message.find("not a LoRA adapter folder") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestLora)
#include "testlora.moc"
