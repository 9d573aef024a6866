// Every block family with packed weights against a plain fp32 model of the dequantized
// checkpoint (max |diff| <= 1e-4 with fp32 compute), KV-cached decoding against the full
// forward, bf16 compute, the bytes a packed span holds, and a shape nf4 cannot pack.

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "loader/tensorsource.h"
#include "model/blockspan.h"
#include "model/linearweight.h"
#include "model/localmodel.h"
#include "model/families.h"
#include "testmodel/testmodel.h"

using namespace corolla;
using namespace corolla::testing;

class TestQuantBlocks : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void formats_data()
    {
        QTest::addColumn<QString>("family");
        QTest::addColumn<QString>("quantization");
        for (const char *family : kFamilies) {
            for (const char *quantization : {"int8", "nf4"})
                QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(QLatin1String(family),
                                                                     QLatin1String(quantization))))
                    << QString::fromLatin1(family) << QString::fromLatin1(quantization);
        }
    }

    // Logits of the packed model equal those of a plain model of the dequantized weights.
    void logitsMatchDequantizedCheckpoint_data() { formats_data(); }
    void logitsMatchDequantizedCheckpoint()
    {
        QFETCH(QString, family);
        QFETCH(QString, quantization);
        const Family f = familyByName(family, 17);
        const Quantization format = *quantizationFromName(quantization.toStdString());
        int packedTensors = 0;
        const auto dequantized = dequantizedCheckpoint(f.weights, format, packedTensors);
        // BLOOM and Falcon: four projections a block; Llama-style: seven; Mixtral: four and
        // three per expert.
        const int perBlock = family.startsWith("bloom") || family.startsWith("falcon") ? 4
                             : f.config.architecture == Architecture::Mixtral
                                 ? 4 + 3 * int(f.config.numExperts)
                                 : 7;
        QCOMPARE(packedTensors, int(f.config.numLayers) * perBlock);

        auto packed =
            LocalModel::fromSource(f.config, MemoryTensorSource(f.weights), at::kFloat, format);
        auto plain = LocalModel::fromSource(f.config, MemoryTensorSource(dequantized), at::kFloat);
        QVERIFY2(packed.ok(), packed.ok() ? "" : packed.error().message.c_str());
        QVERIFY(plain.ok());
        const std::vector<std::int64_t> ids{1, 17, 200, 3, 99, 45, 310, 7, 8, 250, 11, 12};
        auto ours = (*packed)->logits(ids);
        auto expected = (*plain)->logits(ids);
        QVERIFY(ours.ok() && expected.ok());
        const double diff = maxAbsDiff(*ours, *expected);
        QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("max |diff| %1").arg(diff)));
        // The packing is not a no-op: the plain model of the original weights differs.
        auto original = LocalModel::fromSource(f.config, MemoryTensorSource(f.weights), at::kFloat);
        QVERIFY(maxAbsDiff(*(*original)->logits(ids), *expected) > 1e-3);
    }

    // Decoding token by token with the cache (the packed decode kernels) equals one forward
    // pass over the whole sequence (the tiled GEMM), with fp32 and with bf16 compute.
    void cachedDecodeEqualsFullForward_data() { formats_data(); }
    void cachedDecodeEqualsFullForward()
    {
        QFETCH(QString, family);
        QFETCH(QString, quantization);
        const Family f = familyByName(family, 17);
        const Quantization format = *quantizationFromName(quantization.toStdString());
        const MemoryTensorSource source(f.weights);
        const at::Tensor x = randomHidden({1, 14, f.config.hiddenSize}, 2);
        // A mixture of experts sends a token elsewhere when two experts' scores differ by
        // less than the rounding of the two paths, which bf16 reaches: Mixtral's cached decode
        // is compared in fp32, its bf16 model with its fp32 one (testblocks).
        std::vector<at::ScalarType> dtypes{at::kFloat, at::kBFloat16};
        if (f.config.architecture == Architecture::Mixtral)
            dtypes.pop_back();
        for (const at::ScalarType dtype : dtypes) {
            auto span = BlockSpan::load(f.config, source, 0, f.config.numLayers, dtype, format);
            QVERIFY(span.ok());
            QCOMPARE((*span)->quantization(), format);
            auto full = (*span)->forward(x, {14});
            QVERIFY(full.ok());
            KvCache cache = (*span)->makeCache(1, 14);
            auto prefill = (*span)->step(x.narrow(1, 0, 10), cache, {10});
            QVERIFY(prefill.ok());
            std::vector<at::Tensor> pieces{*prefill};
            for (std::int64_t t = 10; t < 14; ++t) {
                auto decoded = (*span)->step(x.narrow(1, t, 1), cache, {1});
                QVERIFY(decoded.ok());
                pieces.push_back(*decoded);
            }
            const at::Tensor stepped = at::cat(pieces, 1);
            const double relative = maxAbsDiff(stepped, *full) / full->abs().max().item<double>();
            // fp32: the sums differ in order only; bf16: every product rounds its output.
            const double tolerance = dtype == at::kFloat ? 1e-5 : 3e-2;
            QVERIFY2(relative <= tolerance,
                     qPrintable(QStringLiteral("%1: relative max |diff| %2")
                                    .arg(dtype == at::kFloat ? "fp32" : "bf16")
                                    .arg(relative)));
        }
    }

    // A packed span holds codes and scales only: int8 about a quarter and nf4 about an eighth
    // of the fp32 projections, exactly as packedWeightBytes counts them.
    void packedSpansHoldFewerBytes()
    {
        const Family f = makeFamily("llama", 17);
        const MemoryTensorSource source(f.weights);
        const ModelConfig &c = f.config;
        const std::int64_t h = c.hiddenSize, ffn = c.intermediateSize;
        const std::int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
        const std::int64_t norms = 2 * h * 4; // two fp32 norm weights per block
        for (Quantization format : {Quantization::None, Quantization::Int8, Quantization::Nf4}) {
            auto span = BlockSpan::load(c, source, 0, 1, at::kFloat, format);
            QVERIFY(span.ok());
            const std::int64_t expected = norms + packedWeightBytes(format, q + 2 * kv, h, 4)
                                          + packedWeightBytes(format, h, q, 4)
                                          + packedWeightBytes(format, 2 * ffn, h, 4)
                                          + packedWeightBytes(format, h, ffn, 4);
            QCOMPARE((*span)->weightBytes(), expected);
        }
        QCOMPARE(packedWeightBytes(Quantization::Nf4, 2, 128, 2), 2 * 64 + 2 * 2 * 4);
        QCOMPARE(packedWeightBytes(Quantization::Int8, 2, 128, 2), 2 * 128 + 2 * 4);
    }

    // A projection whose input width is no multiple of 64 cannot be nf4: the load says which
    // tensor and why, and int8 still loads it.
    void nf4RefusesAMisfitShape()
    {
        TestModelSpec spec{"llama", "tiny", at::kFloat, 1};
        auto text = testModelConfigJson(spec);
        auto config = ModelConfig::parse(*text, "llama");
        config->intermediateSize = 160;
        const auto weights = makeTestWeights(*config, 1, at::kFloat);
        auto refused = BlockSpan::load(*config, MemoryTensorSource(weights), 0, 1, at::kFloat,
                                       Quantization::Nf4);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Format);
        QVERIFY2(refused.error().message.find("model.layers.0.mlp.down_proj.weight")
                         != std::string::npos
                     && refused.error().message.find("multiple of 64") != std::string::npos,
                 refused.error().message.c_str());
        QVERIFY(BlockSpan::load(*config, MemoryTensorSource(weights), 0, 1, at::kFloat,
                                Quantization::Int8)
                    .ok());
    }
};

QTEST_GUILESS_MAIN(TestQuantBlocks)
#include "testquantblocks.moc"
