// Every block family against the plain reference (fp32, max |diff| <= 1e-5), incremental
// decoding against the full forward, and batches of different lengths against single runs.

#include <algorithm>
#include <cmath>
#include <tuple>

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "loader/tensorsource.h"
#include "model/arch/bloomblock.h"
#include "model/blockspan.h"
#include "model/gemvbf16.h"
#include "model/localmodel.h"
#include "model/ops.h"
#include "model/referencemodel.h"
#include "model/families.h"
#include "testmodel/testmodel.h"

using namespace corolla;
using namespace corolla::testing;

class TestBlocks : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void families_data() { addFamilyRows(); }

    void matchesReference_data() { families_data(); }
    void matchesReference()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 11);
        const MemoryTensorSource source(f.weights);
        // 20 tokens: longer than Mistral's test window of 8, so the window matters.
        const at::Tensor x = randomHidden({1, 20, f.config.hiddenSize}, 1);
        for (const auto &[begin, end] :
             {std::pair<std::int64_t, std::int64_t>{0, f.config.numLayers}, {1, 3}}) {
            auto span = BlockSpan::load(f.config, source, begin, end, at::kFloat);
            QVERIFY2(span.ok(), span.ok() ? "" : span.error().message.c_str());
            auto ours = (*span)->forward(x, {20});
            QVERIFY(ours.ok());
            const at::Tensor expected = reference::blocks(f.config, f.weights, x[0], begin, end);
            const double diff = maxAbsDiff((*ours)[0], expected);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("blocks [%1, %2): max |diff| %3")
                                                  .arg(begin)
                                                  .arg(end)
                                                  .arg(diff)));
        }
    }

    // The Mixtral test model routes away from ties: on matchesReference's input, in every
    // block, each token's k-th and (k+1)-th router scores differ by far more than fp32 noise,
    // so the comparisons with the double reference test the experts, not a coin toss.
    void mixtralRoutesAwayFromTies()
    {
        const Family f = familyByName(QStringLiteral("mixtral"), 11);
        const MemoryTensorSource source(f.weights);
        const at::Tensor x = randomHidden({1, 20, f.config.hiddenSize}, 1);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        double smallest = INFINITY;
        const IntermediateHook hook = [&](std::int64_t block, std::string_view name,
                                          const at::Tensor &value) {
            if (name != "ffn_norm")
                return;
            const std::string router =
                "model.layers." + std::to_string(block) + ".block_sparse_moe.gate.weight";
            const at::Tensor scores =
                at::matmul(value[0].to(at::kDouble), f.weights.at(router).to(at::kDouble).t());
            const at::Tensor sorted = std::get<0>(scores.sort(-1, /*descending=*/true));
            const std::int64_t k = f.config.expertsPerToken;
            smallest = std::min(
                smallest, (sorted.select(-1, k - 1) - sorted.select(-1, k)).min().item<double>());
        };
        QVERIFY((*span)->forward(x, {20}, 0, f.config.numLayers, {.inspect = hook}).ok());
        QVERIFY2(smallest > 1e-3, qPrintable(QStringLiteral("closest scores %1").arg(smallest)));
    }

    // The intermediates hook names the same steps in every block of every family, leaves the
    // output alone, and its "out" of block i is the reference's output after blocks [0, i].
    void intermediatesHookReportsEveryBlock_data() { families_data(); }
    void intermediatesHookReportsEveryBlock()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 11);
        const MemoryTensorSource source(f.weights);
        const at::Tensor x = randomHidden({1, 12, f.config.hiddenSize}, 3);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        std::vector<std::pair<std::int64_t, std::string>> seen;
        std::map<std::int64_t, at::Tensor> outs;
        const IntermediateHook hook = [&](std::int64_t block, std::string_view name,
                                          const at::Tensor &value) {
            seen.emplace_back(block, std::string(name));
            if (name == "out")
                outs[block] = value.clone();
        };
        auto inspected = (*span)->forward(x, {12}, 0, f.config.numLayers, {.inspect = hook});
        auto plain = (*span)->forward(x, {12});
        QVERIFY(inspected.ok() && plain.ok());
        QVERIFY(at::equal(*inspected, *plain));

        const bool moe = f.config.architecture == Architecture::Mixtral;
        const std::vector<std::string> steps{"attn_norm", "q",
                                             "k",         "v",
                                             "attention", "attn_residual",
                                             "ffn_norm",  moe ? "ffn_moe" : "ffn_act",
                                             "out"};
        QCOMPARE(seen.size(), steps.size() * std::size_t(f.config.numLayers));
        for (std::size_t i = 0; i < seen.size(); ++i) {
            QCOMPARE(seen[i].first, std::int64_t(i / steps.size()));
            QCOMPARE(seen[i].second, steps[i % steps.size()]);
        }
        for (std::int64_t block = 0; block < f.config.numLayers; ++block) {
            const at::Tensor expected = reference::blocks(f.config, f.weights, x[0], 0, block + 1);
            const double diff = maxAbsDiff(outs.at(block)[0], expected);
            QVERIFY2(diff <= 1e-5,
                     qPrintable(QStringLiteral("block %1: max |diff| %2").arg(block).arg(diff)));
        }
    }

    void logitsMatchReference_data() { families_data(); }
    void logitsMatchReference()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 11);
        const MemoryTensorSource source(f.weights);
        auto model = LocalModel::fromSource(f.config, source, at::kFloat);
        QVERIFY(model.ok());
        const std::vector<std::int64_t> ids = {1, 17, 300, 5, 5, 42, 511, 0, 99, 260, 3, 77};
        auto ours = (*model)->logits(ids);
        QVERIFY(ours.ok());
        const at::Tensor expected = reference::logits(f.config, f.weights, ids);
        QCOMPARE(ours->sizes().vec(), (std::vector<std::int64_t>{12, f.config.vocabSize}));
        const double relative = maxAbsDiff(*ours, expected) / expected.abs().max().item<double>();
        QVERIFY2(relative <= 1e-5, qPrintable(QString::number(relative)));
    }

    void slidingWindowIsApplied()
    {
        // The reference with and without Mistral's window must differ on 20 tokens, or the
        // matchesReference row for mistral would not be testing the window at all.
        Family f = makeFamily("mistral", 11);
        const at::Tensor x = randomHidden({20, f.config.hiddenSize}, 2);
        const at::Tensor windowed = reference::blocks(f.config, f.weights, x, 0, 1);
        f.config.slidingWindow = 0;
        const at::Tensor full = reference::blocks(f.config, f.weights, x, 0, 1);
        QVERIFY(maxAbsDiff(windowed, full) > 1e-3);
    }

    void prefillThenDecodeEqualsFullForward_data() { families_data(); }
    void prefillThenDecodeEqualsFullForward()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 11);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        constexpr std::int64_t kPrompt = 7, kDecode = 16;
        const at::Tensor x = randomHidden({1, kPrompt + kDecode, f.config.hiddenSize}, 3);
        auto full = (*span)->forward(x, {kPrompt + kDecode});
        QVERIFY(full.ok());

        KvCache cache = (*span)->makeCache(1, kPrompt + kDecode);
        std::vector<at::Tensor> pieces;
        auto prefill = (*span)->step(x.narrow(1, 0, kPrompt), cache, {kPrompt});
        QVERIFY(prefill.ok());
        pieces.push_back(*prefill);
        for (std::int64_t t = kPrompt; t < kPrompt + kDecode; ++t) {
            auto step = (*span)->step(x.narrow(1, t, 1), cache, {1});
            QVERIFY(step.ok());
            pieces.push_back(*step);
        }
        QCOMPARE(cache.lengths().front(), kPrompt + kDecode);
        const double diff = maxAbsDiff(at::cat(pieces, 1), *full);
        QVERIFY2(diff <= 1e-5, qPrintable(QString::number(diff)));

        auto overflow = (*span)->step(x.narrow(1, 0, 1), cache, {1});
        QVERIFY(!overflow.ok());
        QCOMPARE(overflow.error().code, ErrorCode::ResourceExhausted);
    }

    void batchOfDifferentLengthsEqualsOneByOne_data() { families_data(); }
    void batchOfDifferentLengthsEqualsOneByOne()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 11);
        const MemoryTensorSource source(f.weights);
        auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        QVERIFY(span.ok());
        const std::vector<std::int64_t> prompt = {5, 11, 8};
        const std::vector<std::int64_t> next = {2, 1, 0};
        const at::Tensor x = randomHidden({3, 11, f.config.hiddenSize}, 4);
        const at::Tensor y = randomHidden({3, 2, f.config.hiddenSize}, 5);

        KvCache batchCache = (*span)->makeCache(3, 16);
        auto batchPrefill = (*span)->step(x, batchCache, prompt);
        auto batchStep = (*span)->step(y, batchCache, next);
        QVERIFY(batchPrefill.ok() && batchStep.ok());
        QCOMPARE(batchCache.lengths(), (std::vector<std::int64_t>{7, 12, 8}));

        for (std::int64_t b = 0; b < 3; ++b) {
            KvCache cache = (*span)->makeCache(1, 16);
            const std::int64_t n = prompt[std::size_t(b)], m = next[std::size_t(b)];
            auto single = (*span)->step(x.narrow(0, b, 1).narrow(1, 0, n), cache, {n});
            QVERIFY(single.ok());
            double diff = maxAbsDiff(batchPrefill->narrow(0, b, 1).narrow(1, 0, n), *single);
            if (m > 0) {
                auto singleStep = (*span)->step(y.narrow(0, b, 1).narrow(1, 0, m), cache, {m});
                QVERIFY(singleStep.ok());
                diff = std::max(
                    diff, maxAbsDiff(batchStep->narrow(0, b, 1).narrow(1, 0, m), *singleStep));
            }
            // fp32 sums in another order (the GEMM blocks a batch differently): a few ulps of
            // the largest value, about 1e-6 of it.
            const double scale = batchPrefill->abs().max().item<double>();
            QVERIFY2(diff <= 4e-6 * std::max(1.0, scale),
                     qPrintable(QStringLiteral("sequence %1: %2 (values up to %3)")
                                    .arg(b)
                                    .arg(diff)
                                    .arg(scale)));
        }
    }

    void bf16StaysCloseToFp32_data() { families_data(); }
    void bf16StaysCloseToFp32()
    {
        QFETCH(QString, family);
        const Family f = familyByName(family, 11);
        const MemoryTensorSource source(f.weights);
        auto full = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kFloat);
        auto half = BlockSpan::load(f.config, source, 0, f.config.numLayers, at::kBFloat16);
        QVERIFY(full.ok() && half.ok());
        const at::Tensor x = randomHidden({1, 9, f.config.hiddenSize}, 6);
        KvCache cache = (*half)->makeCache(1, 10);
        auto reference = (*full)->forward(x, {9});
        auto prefill = (*half)->step(x.narrow(1, 0, 8), cache, {8});
        auto decode = (*half)->step(x.narrow(1, 8, 1), cache, {1}); // the bf16 decode kernels
        QVERIFY(reference.ok() && prefill.ok() && decode.ok());
        const at::Tensor ours = at::cat({*prefill, *decode}, 1);
        QCOMPARE(ours.scalar_type(), at::kBFloat16);
        const double relative =
            maxAbsDiff(ours, *reference) / reference->abs().max().item<double>();
        QVERIFY2(relative < 0.03, qPrintable(QString::number(relative)));
    }

    void bf16MatrixVectorKernel()
    {
        if (!hasBf16Gemv())
            QSKIP("this processor has neither AVX-512 BF16 nor AVX2; libtorch computes instead");
        for (std::int64_t rows : {1, 2, 3, 4}) {
            for (std::int64_t k : {32, 100, 2048 + 17}) {
                const std::int64_t n = 37;
                const at::Tensor x =
                    randomHidden({rows, k}, std::uint64_t(rows * k)).to(at::kBFloat16);
                const at::Tensor w = randomHidden({n, k}, std::uint64_t(k + 1)).to(at::kBFloat16);
                const at::Tensor bias = randomHidden({n}, 9).to(at::kBFloat16);
                const at::Tensor ours = ops::linear(x, w, bias);
                const at::Tensor exact =
                    at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()) + bias.to(at::kDouble);
                // Only the final rounding to bf16 (half a unit in the 8-bit mantissa) and fp32
                // accumulation separate the two.
                const at::Tensor error = (ours.to(at::kDouble) - exact).abs();
                const at::Tensor allowed = exact.abs() * (1.0 / 256.0) + 1e-3;
                QVERIFY2((error <= allowed).all().item<bool>(),
                         qPrintable(QStringLiteral("rows %1, k %2").arg(rows).arg(k)));
            }
        }
    }

    void fp32MatrixVectorKernel()
    {
        if (!hasFp32Gemv())
            QSKIP("this processor has neither AVX-512 nor AVX2; libtorch computes instead");
        for (std::int64_t rows : {1, 2, 3, 4}) {
            for (std::int64_t k : {16, 100, 2048 + 17}) {
                const std::int64_t n = 37;
                const at::Tensor x = randomHidden({rows, k}, std::uint64_t(rows * k));
                const at::Tensor w = randomHidden({n, k}, std::uint64_t(k + 1));
                const at::Tensor bias = randomHidden({n}, 9);
                const at::Tensor exact =
                    at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()) + bias.to(at::kDouble);
                const double diff = maxAbsDiff(ops::linear(x, w, bias), exact);
                QVERIFY2(
                    diff <= 1e-5 * std::sqrt(double(k)),
                    qPrintable(QStringLiteral("rows %1, k %2: %3").arg(rows).arg(k).arg(diff)));
            }
        }
    }

    void alibiSlopes()
    {
        for (std::int64_t heads = 1; heads <= 40; ++heads) {
            const auto ours = corolla::alibiSlopes(heads);
            const auto expected = reference::alibiSlopes(heads);
            QCOMPARE(ours.size(), expected.size());
            for (std::size_t i = 0; i < ours.size(); ++i)
                QVERIFY(std::abs(ours[i] - expected[i]) <= 1e-12 * expected[i]);
        }
        // BLOOM-176B's 112 heads and the 6 of our test model are not powers of two.
        QCOMPARE(corolla::alibiSlopes(6)[4], 0.5);
    }

    void rejectsBadInput()
    {
        const Family f = makeFamily("llama", 11);
        const MemoryTensorSource source(f.weights);
        auto model = LocalModel::fromSource(f.config, source, at::kFloat);
        QVERIFY(model.ok());
        auto outside = (*model)->logits({1, 2, f.config.vocabSize});
        QVERIFY(!outside.ok());
        QVERIFY(outside.error().message.find("outside the vocabulary") != std::string::npos);
        QVERIFY(!(*model)->logits({}).ok());
        QVERIFY(!(*model)->blocks().forward(randomHidden({1, 3, 5}, 1), {3}).ok());
        QVERIFY(!BlockSpan::load(f.config, source, 2, 9, at::kFloat).ok());

        std::map<std::string, at::Tensor> broken = f.weights;
        broken["model.layers.0.mlp.up_proj.weight"] = at::zeros({3, 3});
        auto failed = BlockSpan::load(f.config, MemoryTensorSource(broken), 0, 1, at::kFloat);
        QVERIFY(!failed.ok());
        QVERIFY(failed.error().message.find("up_proj") != std::string::npos);
        broken.erase("model.layers.0.mlp.up_proj.weight");
        QVERIFY(!BlockSpan::load(f.config, MemoryTensorSource(broken), 0, 1, at::kFloat).ok());

        // The families' own tensors (Qwen3's and Gemma 3's per-head norms, Gemma's around the
        // MLP, Mixtral's experts and router, Falcon's norms and biases): missing, or of a
        // wrong shape.
        for (const auto &[family, name, wrongWidth] :
             {std::tuple{"qwen3", "model.layers.1.self_attn.k_norm.weight", 64},
              std::tuple{"gemma3", "model.layers.1.self_attn.q_norm.weight", 64},
              std::tuple{"gemma2", "model.layers.1.pre_feedforward_layernorm.weight", 32},
              std::tuple{"gemma2", "model.layers.0.post_feedforward_layernorm.weight", 32},
              std::tuple{"mixtral", "model.layers.1.block_sparse_moe.experts.3.w2.weight", 7},
              std::tuple{"mixtral", "model.layers.0.block_sparse_moe.gate.weight", 5},
              std::tuple{"falcon", "transformer.h.1.ln_mlp.weight", 32},
              std::tuple{"falcon-alibi", "transformer.h.0.self_attention.query_key_value.bias",
                         64}}) {
            const Family chosen = makeFamily(family, 11);
            for (const bool missing : {true, false}) {
                std::map<std::string, at::Tensor> weights = chosen.weights;
                if (missing)
                    weights.erase(name);
                else
                    weights[name] = at::ones({wrongWidth});
                auto refused =
                    BlockSpan::load(chosen.config, MemoryTensorSource(weights), 0, 2, at::kFloat);
                QVERIFY(!refused.ok());
                QVERIFY2(refused.error().message.find(name) != std::string::npos,
                         refused.error().message.c_str());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestBlocks)
#include "testblocks.moc"
