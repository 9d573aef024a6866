// The element-wise loops between a block's products (rowkernels.h) and the decode attention
// (decodeattention.h) against the tensor
// operations they replace (the generic backend of the same ops, or for SiLU the fp32 function
// rounded once), in bf16 and fp32: the same rounding, row by row the same values however many
// rows a call has, autograd left intact.

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/zeros.h>

#include <QtTest>

#include "model/ops.h"

using namespace corolla;

namespace {

constexpr auto kNative = ComputeBackend::Native;
constexpr auto kGeneric = ComputeBackend::Generic;

// Elements of `a` and `b` that differ, and whether every difference is at most two units in the
// last place of bf16 (2^-6 relative): an intermediate that rounds one ulp apart (a different
// order of an fp32 sum, a different exp) can move the product rounded after it by two.
struct Differences {
    std::int64_t count = 0;
    bool withinTwoUlps = true;
};

Differences compare(const at::Tensor &a, const at::Tensor &b)
{
    const at::Tensor x = a.to(at::kFloat).reshape({-1}), y = b.to(at::kFloat).reshape({-1});
    Differences result;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const float u = x[i].item<float>(), v = y[i].item<float>();
        if (u == v || (std::isnan(u) && std::isnan(v)))
            continue;
        ++result.count;
        if (std::abs(u - v) > std::ldexp(std::max(std::abs(u), std::abs(v)), -6))
            result.withinTwoUlps = false;
    }
    return result;
}

at::Tensor random(at::IntArrayRef sizes, at::ScalarType dtype, std::uint64_t seed)
{
    at::manual_seed(seed);
    return (at::randn(sizes) * 3.0).to(dtype);
}

} // namespace

class TestRowKernels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void rmsNormMatchesTheTensorOperations_data()
    {
        QTest::addColumn<bool>("bf16");
        QTest::addColumn<bool>("scaled");
        QTest::newRow("bf16") << true << false;
        QTest::newRow("fp32") << false << false;
        QTest::newRow("bf16 gemma") << true << true;
        QTest::newRow("fp32 gemma") << false << true;
    }

    void rmsNormMatchesTheTensorOperations()
    {
        QFETCH(bool, bf16);
        QFETCH(bool, scaled);
        const at::ScalarType dtype = bf16 ? at::kBFloat16 : at::kFloat;
        const at::Tensor x = random({2, 37, 2048}, dtype, 1);
        const at::Tensor weight = scaled ? random({2048}, at::kFloat, 2) : random({2048}, dtype, 2);
        const auto norm = scaled ? ops::scaledRmsNorm : ops::rmsNorm;
        const at::Tensor ours = norm(x, weight, 1e-5, kNative);
        const at::Tensor reference = norm(x, weight, 1e-5, kGeneric);
        QCOMPARE(ours.scalar_type(), reference.scalar_type());
        QCOMPARE(ours.sizes(), reference.sizes());
        if (bf16) {
            // Only the sum of squares may round differently: a few values an ulp or two apart.
            const Differences d = compare(ours, reference);
            QVERIFY(d.withinTwoUlps);
            QVERIFY2(d.count * 100 < x.numel(), qPrintable(QString::number(d.count)));
        } else {
            QVERIFY(at::allclose(ours, reference, 1e-6, 1e-6));
        }

        // One row alone (a decode step) gives exactly what it gives among many (a prefill).
        for (const std::int64_t row : {0, 17, 36}) {
            const at::Tensor single = norm(x[1].narrow(0, row, 1), weight, 1e-5, kNative);
            QVERIFY(at::equal(single[0], ours[1][row]));
        }
    }

    void anAllZeroRowNormalisesToZero()
    {
        const at::Tensor x = at::zeros({1, 1, 64}).to(at::kBFloat16);
        const at::Tensor weight = at::ones({64}).to(at::kBFloat16);
        const at::Tensor out = ops::rmsNorm(x, weight, 1e-6, kNative);
        QVERIFY(at::equal(out, x));
    }

    void rotaryIsExactOnStridedHeads_data()
    {
        QTest::addColumn<bool>("bf16");
        QTest::newRow("bf16") << true;
        QTest::newRow("fp32") << false;
    }

    void rotaryIsExactOnStridedHeads()
    {
        QFETCH(bool, bf16);
        const at::ScalarType dtype = bf16 ? at::kBFloat16 : at::kFloat;
        // q as the attention takes it: heads cut out of the fused projection, transposed.
        const std::int64_t batch = 2, steps = 5, heads = 6, dim = 64;
        const at::Tensor qkv = random({batch, steps, 2 * heads * dim}, dtype, 3);
        const at::Tensor q = qkv.narrow(-1, heads * dim, heads * dim)
                                 .view({batch, steps, heads, dim})
                                 .transpose(1, 2);
        QVERIFY(!q.is_contiguous());
        const at::Tensor cos = random({batch, 1, steps, dim}, dtype, 4).clamp(-1, 1);
        const at::Tensor sin = random({batch, 1, steps, dim}, dtype, 5).clamp(-1, 1);
        const at::Tensor ours = ops::applyRotary(q, cos, sin, kNative);
        const at::Tensor reference = ops::applyRotary(q, cos, sin, kGeneric);
        QCOMPARE(ours.sizes(), reference.sizes());
        // No sums: every value is rounded exactly where the tensor operations round it.
        QVERIFY(at::equal(ours, reference));
    }

    void siluGateMatchesTheTensorOperations_data()
    {
        QTest::addColumn<bool>("bf16");
        QTest::newRow("bf16") << true;
        QTest::newRow("fp32") << false;
    }

    void siluGateMatchesTheTensorOperations()
    {
        QFETCH(bool, bf16);
        const at::ScalarType dtype = bf16 ? at::kBFloat16 : at::kFloat;
        // A width that leaves a remainder after the 16-lane loop.
        const std::int64_t width = 5632 + 7;
        at::Tensor gateUp = random({3, 4, 2 * width}, dtype, 6);
        // The edges of exp: saturation both ways, zero, infinities and NaN.
        const float inf = std::numeric_limits<float>::infinity();
        const float edges[] = {-100.0f, -88.0f, -20.0f, -0.0f, 0.0f,         20.0f,
                               88.0f,   100.0f, inf,    -inf,  std::nanf("")};
        for (std::size_t i = 0; i < std::size(edges); ++i)
            gateUp[0][0][std::int64_t(i)] = edges[i];
        const at::Tensor ours = ops::siluGate(gateUp, width, kNative);
        // SiLU in fp32 rounded once, as PyTorch 2 computes it in bf16 (libtorch 1.13, the
        // generic path here, rounds after each of its steps: often an ulp further off).
        const at::Tensor reference = at::silu(gateUp.narrow(-1, 0, width).to(at::kFloat)).to(dtype)
                                     * gateUp.narrow(-1, width, width);
        QCOMPARE(ours.sizes(), reference.sizes());
        QCOMPARE(ours.scalar_type(), dtype);
        for (std::size_t i = 0; i < std::size(edges); ++i) {
            const float a = ours[0][0][std::int64_t(i)].item<float>();
            const float b = reference[0][0][std::int64_t(i)].item<float>();
            QVERIFY2(
                (std::isnan(a) && std::isnan(b)) || a == b,
                qPrintable(QStringLiteral("silu(%1): %2 against %3").arg(edges[i]).arg(a).arg(b)));
        }
        // silu(inf) = inf, silu(-inf) = -inf / inf = NaN, as the function's formula gives them.
        QCOMPARE(ours[0][0][8].item<float>(), inf);
        QVERIFY(std::isnan(ours[0][0][9].item<float>()));
        if (bf16) {
            // Our exp and libtorch's may differ in the last fp32 bit: rarely a bf16 ulp or two.
            const Differences d = compare(ours, reference);
            QVERIFY(d.withinTwoUlps);
            QVERIFY2(d.count * 100 < ours.numel(), qPrintable(QString::number(d.count)));
        } else {
            const at::Tensor finite = ours.reshape({-1}).narrow(0, 16, ours.numel() - 16);
            const at::Tensor expected = reference.reshape({-1}).narrow(0, 16, ours.numel() - 16);
            QVERIFY(at::allclose(finite, expected, 1e-6, 1e-6));
        }
        // A single row as in a prefill of many.
        const at::Tensor single = ops::siluGate(gateUp[2].narrow(0, 3, 1), width, kNative);
        QVERIFY(at::equal(single[0], ours[2][3]));
    }

    void decodeAttentionMatchesTheTensorOperations_data()
    {
        QTest::addColumn<bool>("bf16");
        QTest::addColumn<qint64>("dim");
        QTest::addColumn<qint64>("steps");
        QTest::newRow("bf16, 64 wide (vector loops)") << true << qint64(64) << qint64(1);
        QTest::newRow("bf16, 128 wide, 3 steps") << true << qint64(128) << qint64(3);
        // Values summed 128 wide at a time: 96 in one pass, 160 as 128 and 32, 256 as two.
        QTest::newRow("bf16, 96 wide") << true << qint64(96) << qint64(1);
        QTest::newRow("bf16, 160 wide, 2 steps") << true << qint64(160) << qint64(2);
        QTest::newRow("bf16, 256 wide") << true << qint64(256) << qint64(1);
        QTest::newRow("bf16, 48 wide (scalar loop)") << true << qint64(48) << qint64(1);
        QTest::newRow("fp32, 64 wide") << false << qint64(64) << qint64(2);
    }

    void decodeAttentionMatchesTheTensorOperations()
    {
        QFETCH(bool, bf16);
        QFETCH(qint64, dim);
        QFETCH(qint64, steps);
        const at::ScalarType dtype = bf16 ? at::kBFloat16 : at::kFloat;
        // Grouped query heads over a cache longer than what is visible, as a decode sees it.
        const std::int64_t heads = 8, kvHeads = 2, visible = 77;
        const at::Tensor q = random({1, heads, steps, dim}, dtype, 7) / 3.0;
        const at::Tensor k = random({1, kvHeads, 96, dim}, dtype, 8).narrow(2, 0, visible) / 3.0;
        const at::Tensor v = random({1, kvHeads, 96, dim}, dtype, 9).narrow(2, 0, visible);
        at::Tensor mask = at::zeros({1, 1, steps, visible});
        const float hidden = -std::numeric_limits<float>::infinity();
        mask.narrow(3, 10, 5).fill_(hidden);
        for (std::int64_t t = 0; t + 1 < steps; ++t)
            mask[0][0][t].narrow(0, visible - steps + t + 1, steps - t - 1).fill_(hidden);
        const double scale = 1.0 / std::sqrt(double(dim));
        const at::Tensor ours = ops::attention(q, k, v, mask, scale, {}, 0.0, kNative);
        // The fused loop computes in fp32 and rounds once: against fp32 tensor operations on
        // the same values (libtorch's bf16 matmuls round the scores and weights to bf16).
        const at::Tensor reference =
            ops::attention(q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat), mask, scale, {},
                           0.0, kGeneric)
                .to(dtype);
        QCOMPARE(ours.sizes(), reference.sizes());
        if (bf16) {
            const Differences d = compare(ours, reference);
            QVERIFY(d.withinTwoUlps);
            QVERIFY2(d.count * 20 < ours.numel(), qPrintable(QString::number(d.count)));
        } else {
            QVERIFY(at::allclose(ours, reference, 1e-5, 1e-6));
        }
    }

    void gradientsStillFlowThroughTheTensorOperations()
    {
        const at::Tensor x = at::randn({1, 3, 64}).requires_grad_();
        const at::Tensor weight = at::ones({64});
        const at::Tensor normed = ops::rmsNorm(x, weight, 1e-5, kNative);
        const at::Tensor activated = ops::siluGate(at::cat({normed, normed}, -1), 64, kNative);
        QVERIFY(activated.requires_grad());
        activated.sum().backward();
        QVERIFY(x.grad().defined());
        QVERIFY(x.grad().abs().sum().item<float>() > 0.0f);
    }
};

QTEST_GUILESS_MAIN(TestRowKernels)
#include "testrowkernels.moc"
