// The int8 and nf4 formats against their definitions (written out here independently of the
// engine: rounding ties, zero rows and blocks, extreme values, the level table, the nibble
// layout), and the packed kernels against dequantize-then-matmul for 1-8 rows and odd shapes.

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "model/linearweight.h"
#include "model/nf4pack.h"
#include "model/ops.h"
#include "model/quantkernels.h"
#include "model/quanttesthelpers.h"

using namespace corolla;
using namespace corolla::quanttest;

namespace {

// The definitions, value by value.
struct ReferenceInt8 {
    std::vector<std::int8_t> codes;
    std::vector<float> scales;
};

ReferenceInt8 referenceInt8(const at::Tensor &weight)
{
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const std::int64_t out = w.size(0), in = w.size(1);
    const float *data = w.data_ptr<float>();
    ReferenceInt8 result;
    for (std::int64_t r = 0; r < out; ++r) {
        float absmax = 0;
        for (std::int64_t j = 0; j < in; ++j)
            absmax = std::max(absmax, std::fabs(data[r * in + j]));
        const float scale = absmax / 127.0f;
        result.scales.push_back(scale);
        for (std::int64_t j = 0; j < in; ++j) {
            float q = 0;
            if (scale != 0) {
                const float quotient = data[r * in + j] / scale;
                // Round half to even, spelled out.
                const float floor = std::floor(quotient), fraction = quotient - floor;
                q = fraction > 0.5f || (fraction == 0.5f && std::fmod(floor, 2.0f) != 0) ? floor + 1
                                                                                         : floor;
            }
            result.codes.push_back(std::int8_t(std::min(127.0f, std::max(-127.0f, q))));
        }
    }
    return result;
}

struct ReferenceNf4 {
    std::vector<int> codes; // one per value, row-major
    std::vector<float> absmax;
};

ReferenceNf4 referenceNf4(const at::Tensor &weight)
{
    const at::Tensor w = weight.to(at::kFloat).contiguous();
    const std::int64_t count = w.numel();
    const float *data = w.data_ptr<float>();
    ReferenceNf4 result;
    for (std::int64_t b = 0; b < count / 64; ++b) {
        float absmax = 0;
        for (int j = 0; j < 64; ++j)
            absmax = std::max(absmax, std::fabs(data[b * 64 + j]));
        result.absmax.push_back(absmax);
        for (int j = 0; j < 64; ++j) {
            const float normalised = absmax == 0 ? 0.0f : data[b * 64 + j] / absmax;
            int best = 0; // the first of the nearest: ties go to the lower index
            for (int i = 1; i < 16; ++i) {
                if (std::fabs(normalised - kNf4Levels[std::size_t(i)])
                    < std::fabs(normalised - kNf4Levels[std::size_t(best)]))
                    best = i;
            }
            result.codes.push_back(best);
        }
    }
    return result;
}

int nf4CodeAt(const LinearWeight &packed, std::int64_t row, std::int64_t column)
{
    const auto *bytes = packed.codes().data_ptr<std::uint8_t>();
    const std::int64_t block = column / 64, j = column % 64;
    const std::uint8_t byte = bytes[row * packed.inFeatures() / 2 + block * 32 + j % 32];
    return j < 32 ? byte & 15 : byte >> 4;
}

// fp32 values rounded to bf16 as the format says: nearest even, subnormals flushed to zero.
at::Tensor toBf16(const at::Tensor &values)
{
    return at::where(values.abs() < std::numeric_limits<float>::min(), at::zeros_like(values),
                     values)
        .to(at::kBFloat16);
}

} // namespace

class TestQuantFormat : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void levelTable()
    {
        QCOMPARE(kNf4Levels.size(), std::size_t(16));
        QCOMPARE(kNf4Levels.front(), -1.0f);
        QCOMPARE(kNf4Levels[7], 0.0f);
        QCOMPARE(kNf4Levels.back(), 1.0f);
        QCOMPARE(kNf4Levels[1], -0.6961928009986877f);
        QCOMPARE(kNf4Levels[14], 0.7229568362236023f);
        for (std::size_t i = 1; i < kNf4Levels.size(); ++i)
            QVERIFY(kNf4Levels[i - 1] < kNf4Levels[i]);
    }

    void int8RoundsHalfToEven()
    {
        // The row's absmax is 127, so the scale is exactly 1 and the quotients are the values.
        const at::Tensor w =
            at::tensor({127.0f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -0.5f, 126.5f, -127.0f})
                .view({1, 10});
        const LinearWeight packed = quantized(w, Quantization::Int8);
        QCOMPARE(packed.scales().item<float>(), 1.0f);
        const std::vector<int> expected{127, 2, 4, -2, -4, 0, 2, 0, 126, -127};
        for (std::size_t j = 0; j < expected.size(); ++j)
            QCOMPARE(int(packed.codes().data_ptr<std::int8_t>()[j]), expected[j]);
    }

    void int8MatchesDefinition_data()
    {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<double>("magnitude");
        QTest::newRow("odd shape") << 37 << 515 << 1.0;
        QTest::newRow("huge values") << 5 << 64 << 1e37;
        QTest::newRow("subnormal-scale values") << 5 << 64 << 1e-40;
    }
    void int8MatchesDefinition()
    {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(double, magnitude);
        at::Tensor w = randomMatrix(rows, cols, 7) * magnitude;
        w[1].zero_(); // an all-zero row has scale 0
        const LinearWeight packed = quantized(w, Quantization::Int8);
        const ReferenceInt8 expected = referenceInt8(w);
        for (int r = 0; r < rows; ++r)
            QCOMPARE(packed.scales().data_ptr<float>()[r], expected.scales[std::size_t(r)]);
        QCOMPARE(packed.scales().data_ptr<float>()[1], 0.0f);
        for (std::size_t i = 0; i < expected.codes.size(); ++i)
            QCOMPARE(int(packed.codes().data_ptr<std::int8_t>()[i]), int(expected.codes[i]));
        // Dequantized: q * scale, one fp32 multiplication.
        const at::Tensor values = packed.dequantize(at::kFloat);
        for (int r = 0; r < rows; ++r) {
            for (int j = 0; j < cols; ++j) {
                const float q = float(expected.codes[std::size_t(r * cols + j)]);
                QCOMPARE(values[r][j].item<float>(), q * expected.scales[std::size_t(r)]);
            }
        }
        QVERIFY(at::equal(packed.dequantize(at::kBFloat16), toBf16(values)));
    }

    void nf4MatchesDefinition_data()
    {
        QTest::addColumn<double>("magnitude");
        QTest::addColumn<bool>("bf16Source");
        for (const bool bf16 : {false, true}) {
            const char *source = bf16 ? ", bf16 checkpoint" : "";
            QTest::newRow(qPrintable(QStringLiteral("normal%1").arg(source))) << 1.0 << bf16;
            QTest::newRow(qPrintable(QStringLiteral("huge values%1").arg(source))) << 1e37 << bf16;
            QTest::newRow(qPrintable(QStringLiteral("tiny values%1").arg(source))) << 1e-38 << bf16;
        }
    }
    void nf4MatchesDefinition()
    {
        QFETCH(double, magnitude);
        QFETCH(bool, bf16Source);
        at::Tensor w = randomMatrix(9, 192, 3) * magnitude;
        w[2].narrow(0, 64, 64).zero_(); // an all-zero block
        if (bf16Source)
            w = w.to(at::kBFloat16);
        const LinearWeight packed = quantized(w, Quantization::Nf4);
        const ReferenceNf4 expected = referenceNf4(w);
        // From a bf16 checkpoint every absmax is exact in bf16 and held so; from fp32 values
        // (whose absmax are not) in fp32.
        QCOMPARE(packed.scales().scalar_type(), bf16Source ? at::kBFloat16 : at::kFloat);
        QCOMPARE(packed.bytes(), 9 * 192 / 2 + 9 * 3 * (bf16Source ? 2 : 4));
        const at::Tensor absmax = packed.scales().to(at::kFloat);
        QCOMPARE(absmax.numel(), std::int64_t(expected.absmax.size()));
        for (std::size_t b = 0; b < expected.absmax.size(); ++b)
            QCOMPARE(absmax.data_ptr<float>()[b], expected.absmax[b]);
        const at::Tensor values = packed.dequantize(at::kFloat);
        for (std::int64_t r = 0; r < 9; ++r) {
            for (std::int64_t j = 0; j < 192; ++j) {
                const int code = expected.codes[std::size_t(r * 192 + j)];
                QCOMPARE(nf4CodeAt(packed, r, j), code);
                QCOMPARE(values[r][j].item<float>(),
                         kNf4Levels[std::size_t(code)]
                             * expected.absmax[std::size_t(r * 3 + j / 64)]);
            }
        }
        QCOMPARE(values[2].narrow(0, 64, 64).abs().max().item<float>(), 0.0f);
        QVERIFY(at::equal(packed.dequantize(at::kBFloat16), toBf16(values)));
    }

    // The vectorised quantizer and the portable loop give the same bytes, values near the
    // midpoints between levels included.
    void nf4QuantizersAgree()
    {
        at::Tensor w = randomMatrix(64, 256, 21);
        // Quotients at and within a few ulps of every midpoint (block absmax 1).
        float *values = w.data_ptr<float>();
        for (int i = 0; i < 15; ++i) {
            const float midpoint =
                0.5f * (kNf4Levels[std::size_t(i)] + kNf4Levels[std::size_t(i + 1)]);
            float *block = values + i * 64;
            block[0] = 1.0f;
            float below = midpoint, above = midpoint;
            for (int j = 1; j < 8; ++j) {
                block[2 * j] = below = std::nextafter(below, -2.0f);
                block[2 * j + 1] = above = std::nextafter(above, 2.0f);
            }
            block[16] = midpoint;
            for (int j = 17; j < 64; ++j)
                block[j] = std::clamp(block[j] * 0.3f, -1.0f, 1.0f);
        }
        const std::int64_t blocks = w.numel() / 64;
        std::vector<std::uint8_t> fast(std::size_t(blocks * 32)), portable(fast.size());
        std::vector<float> fastAbsmax(static_cast<std::size_t>(blocks));
        std::vector<float> portableAbsmax(fastAbsmax.size());
        quantizeNf4Blocks(values, blocks, fast.data(), fastAbsmax.data());
        quantizeNf4BlocksPortable(values, blocks, portable.data(), portableAbsmax.data());
        QVERIFY(fast == portable);
        QVERIFY(fastAbsmax == portableAbsmax);
        // And both follow the definition.
        const ReferenceNf4 expected = referenceNf4(w);
        for (std::int64_t i = 0; i < w.numel(); ++i) {
            const std::uint8_t byte = portable[std::size_t(i / 64 * 32 + i % 32)];
            QCOMPARE((i % 64) < 32 ? byte & 15 : byte >> 4, expected.codes[std::size_t(i)]);
        }
    }

    // Halfway between two levels, the lower one wins; the extremes map to the ends.
    void nf4TiesGoToTheLowerLevel()
    {
        at::Tensor w = at::zeros({1, 64});
        w[0][0] = 1.0f;              // absmax 1: the values are their own quotients
        w[0][1] = kNf4Levels[8] / 2; // exactly between 0 and level 8
        w[0][2] = kNf4Levels[6] / 2; // exactly between level 6 and 0
        w[0][3] = -1.0f;             // level 0
        w[0][4] = std::nextafter(kNf4Levels[8] / 2, 1.0f); // just past the midpoint
        w[0][5] = kNf4Levels[12];                          // a level itself
        const LinearWeight packed = quantized(w, Quantization::Nf4);
        QCOMPARE(nf4CodeAt(packed, 0, 0), 15);
        QCOMPARE(nf4CodeAt(packed, 0, 1), 7);
        QCOMPARE(nf4CodeAt(packed, 0, 2), 6);
        QCOMPARE(nf4CodeAt(packed, 0, 3), 0);
        QCOMPARE(nf4CodeAt(packed, 0, 4), 8);
        QCOMPARE(nf4CodeAt(packed, 0, 5), 12);
    }

    void badInputIsRefused()
    {
        auto misfit = LinearWeight::quantize(at::zeros({4, 100}), Quantization::Nf4,
                                             "model.layers.0.mlp.down_proj.weight");
        QVERIFY(!misfit.ok());
        QVERIFY(misfit.error().message.find("model.layers.0.mlp.down_proj.weight")
                != std::string::npos);
        QVERIFY(misfit.error().message.find("multiple of 64") != std::string::npos);

        for (const float bad :
             {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
            at::Tensor w = at::zeros({3, 64});
            w[2][5] = bad;
            for (Quantization quantization : {Quantization::Int8, Quantization::Nf4}) {
                auto refused = LinearWeight::quantize(w, quantization, "w.weight");
                QVERIFY(!refused.ok());
                QVERIFY2(refused.error().message.find("row 2, column 5") != std::string::npos,
                         refused.error().message.c_str());
            }
        }
        QVERIFY(!LinearWeight::packed(Quantization::Nf4, at::zeros({4, 32}, at::kByte),
                                      at::zeros({4}, at::kFloat), 4, 64)
                     .ok());
    }
};

QTEST_GUILESS_MAIN(TestQuantFormat)
#include "testquantformat.moc"
