// The packed-weight kernels (quantkernels.h) on every path this processor runs: against
// dequantize-then-matmul for 1-8 rows and odd shapes, value by value with one-hot inputs, and
// the tiled products of prefill.

#include <algorithm>
#include <cmath>
#include <functional>

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/ops/all.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/zeros.h>
#include <c10/core/InferenceMode.h>

#include <QtTest>

#include "model/linearweight.h"
#include "model/ops.h"
#include "model/quantkernels.h"
#include "model/quanttesthelpers.h"

using namespace corolla;
using namespace corolla::quanttest;

class TestQuantKernels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // Every kernel path against dequantize-then-matmul, for 1-8 rows (the decode kernels),
    // 9 and 21 rows (the tiled GEMM), and shapes that end mid-vector.
    void kernelsMatchDequantizedProducts_data()
    {
        QTest::addColumn<int>("quantization");
        QTest::addColumn<int>("dtype");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("bf16Source"); // nf4: absmax held in bf16
        for (const auto &[name, quantization, n, k, bf16Source] :
             {std::tuple{"int8", Quantization::Int8, 1001, 515, false},
              std::tuple{"int8 short", Quantization::Int8, 3, 7, false},
              std::tuple{"int8 whole chunks", Quantization::Int8, 130, 384, false},
              std::tuple{"nf4", Quantization::Nf4, 77, 192, false},
              std::tuple{"nf4 wide", Quantization::Nf4, 1003, 1024, false},
              std::tuple{"nf4 bf16 absmax", Quantization::Nf4, 77, 192, true},
              std::tuple{"nf4 wide bf16 absmax", Quantization::Nf4, 1003, 1024, true},
              // Rows of more blocks than the loops keep widened on their stack (1024).
              std::tuple{"nf4 long rows bf16 absmax", Quantization::Nf4, 5, 65600, true}}) {
            for (const auto dtype : {at::kFloat, at::kBFloat16}) {
                QTest::newRow(qPrintable(QStringLiteral("%1 %2").arg(
                    QLatin1String(name),
                    dtype == at::kFloat ? QStringLiteral("fp32") : QStringLiteral("bf16"))))
                    << int(quantization) << int(dtype) << n << k << bf16Source;
            }
        }
    }
    void kernelsMatchDequantizedProducts()
    {
        QFETCH(int, quantization);
        QFETCH(int, dtype);
        QFETCH(int, n);
        QFETCH(int, k);
        QFETCH(bool, bf16Source);
        c10::InferenceMode inference;
        const auto type = at::ScalarType(dtype);
        const at::Tensor source = randomMatrix(n, k, 5);
        const LinearWeight packed =
            quantized(bf16Source ? source.to(at::kBFloat16) : source, Quantization(quantization));
        QCOMPARE(packed.scales().scalar_type(), bf16Source ? at::kBFloat16 : at::kFloat);
        const at::Tensor bias = randomMatrix(1, n, 6).view({n}).to(type);
        // Dequantized by libtorch's tensor operations: a path that shares no loop with the
        // kernels, and that the CPU's own dequantization must equal.
        const at::Tensor dense = packed.dequantizeWithTensorOps(type).to(at::kFloat);
        QVERIFY(at::equal(packed.dequantize(type).to(at::kFloat), dense));
        // bf16 outputs are rounded once (2^-9 relative); the sums differ in order only.
        const double tolerance = type == at::kFloat ? 2e-4 : 3e-2;
        for (const int rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 21}) {
            const at::Tensor x = randomMatrix(rows, k, 100 + rows).to(type);
            const at::Tensor expected =
                at::matmul(x.to(at::kFloat), dense.t()) + bias.to(at::kFloat);
            const double scale = expected.abs().max().item<double>();
            const at::Tensor ours = ops::linear(x, packed, bias);
            QCOMPARE(ours.scalar_type(), type);
            QVERIFY2(maxAbsDiff(ours, expected) <= tolerance * scale,
                     qPrintable(QStringLiteral("%1 rows: max |diff| %2 of %3")
                                    .arg(rows)
                                    .arg(maxAbsDiff(ours, expected))
                                    .arg(scale)));
            if (rows > kPackedGemvMaxRows)
                continue;
            at::Tensor portable = at::empty({rows, n}, x.options());
            gemvPackedPortable(packed.packedView(), x.data_ptr(), rows, bias.data_ptr(),
                               portable.data_ptr(), type);
            QVERIFY2(maxAbsDiff(portable, expected) <= tolerance * scale,
                     qPrintable(QStringLiteral("portable, %1 rows").arg(rows)));
            if (hasPackedAvx2()) {
                at::Tensor avx2 = at::empty({rows, n}, x.options());
                gemvPackedAvx2(packed.packedView(), x.data_ptr(), rows, bias.data_ptr(),
                               avx2.data_ptr(), type);
                QVERIFY2(maxAbsDiff(avx2, expected) <= tolerance * scale,
                         qPrintable(QStringLiteral("AVX2, %1 rows").arg(rows)));
            }
            if (hasPackedAvx512()) {
                at::Tensor avx512 = at::empty({rows, n}, x.options());
                gemvPackedAvx512(packed.packedView(), x.data_ptr(), rows, bias.data_ptr(),
                                 avx512.data_ptr(), type);
                QVERIFY2(maxAbsDiff(avx512, expected) <= tolerance * scale,
                         qPrintable(QStringLiteral("AVX-512, %1 rows").arg(rows)));
                // The byte-lookup int8 loop forms the same exact products as the AVX-512
                // one; only the order of the fp32 sums differs, so the bf16 results are at
                // most one rounding apart.
                if (hasPackedVbmi() && type == at::kBFloat16
                    && Quantization(quantization) == Quantization::Int8) {
                    at::Tensor vbmi = at::empty({rows, n}, x.options());
                    gemvPackedInt8Vbmi(packed.packedView(), x.data_ptr<c10::BFloat16>(), rows,
                                       bias.data_ptr<c10::BFloat16>(),
                                       vbmi.data_ptr<c10::BFloat16>());
                    const at::Tensor apart = (vbmi.to(at::kFloat) - avx512.to(at::kFloat)).abs();
                    QVERIFY2(
                        at::all(apart <= avx512.to(at::kFloat).abs() * (1.0 / 128) + 1e-6 * scale)
                            .item<bool>(),
                        qPrintable(QStringLiteral("VBMI, %1 rows: %2 apart")
                                       .arg(rows)
                                       .arg(apart.max().item<double>())));
                    QVERIFY2(maxAbsDiff(vbmi, expected) <= tolerance * scale,
                             qPrintable(QStringLiteral("VBMI, %1 rows").arg(rows)));
                }
            }
        }
        // Every path dequantizes to exactly the same values.
        const std::int64_t end = std::min<std::int64_t>(n, 4);
        const at::Tensor reference = packed.dequantize(type).narrow(0, 1, end - 1);
        at::Tensor slice = at::empty({end - 1, k}, type);
        dequantizePackedRowsPortable(packed.packedView(), 1, end, type, slice.data_ptr());
        QVERIFY(at::equal(slice, reference));
        if (hasPackedAvx2()) {
            at::Tensor avx2 = at::empty({end - 1, k}, type);
            dequantizePackedRowsAvx2(packed.packedView(), 1, end, type, avx2.data_ptr());
            QVERIFY(at::equal(avx2, reference));
        }
    }

    // With one-hot inputs a product returns columns of the weight, so every kernel must give
    // back exactly the dequantized weights: each loop's tables and lookups checked value by
    // value, for rows whose magnitudes run from fp32 subnormals to near the largest finite
    // value (nf4 absmax exponents on both of the AVX2 bf16 loop's table paths), an all-zero
    // block, and every row count the decode loops take.
    void kernelsReadExactlyTheDequantizedWeights_data()
    {
        QTest::addColumn<int>("quantization");
        QTest::addColumn<int>("dtype");
        QTest::addColumn<bool>("bf16Source");
        for (const auto quantization : {Quantization::Int8, Quantization::Nf4}) {
            for (const auto dtype : {at::kFloat, at::kBFloat16}) {
                for (const bool bf16Source : {false, true}) {
                    QTest::newRow(qPrintable(QStringLiteral("%1 %2%3").arg(
                        quantization == Quantization::Int8 ? "int8" : "nf4",
                        dtype == at::kFloat ? "fp32" : "bf16", bf16Source ? " bf16 source" : "")))
                        << int(quantization) << int(dtype) << bf16Source;
                }
            }
        }
    }
    void kernelsReadExactlyTheDequantizedWeights()
    {
        QFETCH(int, quantization);
        QFETCH(int, dtype);
        QFETCH(bool, bf16Source);
        c10::InferenceMode inference;
        const auto type = at::ScalarType(dtype);
        const bool nf4 = Quantization(quantization) == Quantization::Nf4;
        // Row magnitudes 2^e. int8 rows stay where the scale and its products are normal (a
        // bf16 product's final rounding does not flush subnormals as the dequantization does).
        const std::vector<int> exponents =
            nf4 ? std::vector<int>{-140, -133, -127, -126, -125, -124, -123, -122, -121, -120, -119,
                                   -118, -117, -60,  -1,   0,    1,    60,   124,  125,  126,  127}
                : std::vector<int>{-110, -60, -1, 0, 1, 60, 120, 126};
        const std::int64_t n = std::int64_t(exponents.size()), k = 192;
        auto generator = at::make_generator<at::CPUGeneratorImpl>(31);
        at::Tensor source =
            at::rand({n, k}, generator, at::TensorOptions().dtype(at::kFloat)) * 2 - 1;
        for (std::int64_t r = 0; r < n; ++r)
            source[r].mul_(std::ldexp(1.0f, exponents[std::size_t(r)]));
        source[n / 2].narrow(0, 64, 64).zero_();
        const LinearWeight packed =
            quantized(bf16Source ? source.to(at::kBFloat16) : source, Quantization(quantization));
        const at::Tensor weights = packed.dequantize(type);

        using Kernel = std::function<void(const at::Tensor &x, at::Tensor &y)>;
        const PackedView view = packed.packedView();
        std::vector<std::pair<QString, Kernel>> kernels = {
            {QStringLiteral("dispatched"),
             [&](const at::Tensor &x, at::Tensor &y) { y = ops::linear(x, packed); }},
            {QStringLiteral("portable"), [&](const at::Tensor &x, at::Tensor &y) {
                 gemvPackedPortable(view, x.data_ptr(), x.size(0), nullptr, y.data_ptr(), type);
             }}};
        if (hasPackedAvx2())
            kernels.emplace_back(QStringLiteral("AVX2"), [&](const at::Tensor &x, at::Tensor &y) {
                gemvPackedAvx2(view, x.data_ptr(), x.size(0), nullptr, y.data_ptr(), type);
            });
        if (hasPackedAvx512())
            kernels.emplace_back(
                QStringLiteral("AVX-512"), [&](const at::Tensor &x, at::Tensor &y) {
                    gemvPackedAvx512(view, x.data_ptr(), x.size(0), nullptr, y.data_ptr(), type);
                });
        if (hasPackedVbmi() && !nf4 && type == at::kBFloat16)
            kernels.emplace_back(QStringLiteral("VBMI"), [&](const at::Tensor &x, at::Tensor &y) {
                gemvPackedInt8Vbmi(view, x.data_ptr<c10::BFloat16>(), x.size(0), nullptr,
                                   y.data_ptr<c10::BFloat16>());
            });
        std::int64_t rows = 1;
        for (std::int64_t first = 0; first < k; first += rows, rows = rows % 8 + 1) {
            rows = std::min(rows, k - first);
            at::Tensor x = at::zeros({rows, k}, type);
            for (std::int64_t r = 0; r < rows; ++r)
                x[r][first + r] = 1.0;
            const at::Tensor expected = weights.narrow(1, first, rows).t();
            for (const auto &[name, kernel] : kernels) {
                at::Tensor y = at::empty({rows, n}, type);
                kernel(x, y);
                QVERIFY2(at::all(y == expected).item<bool>(),
                         qPrintable(QStringLiteral("%1, columns %2-%3: max |diff| %4")
                                        .arg(name)
                                        .arg(first)
                                        .arg(first + rows - 1)
                                        .arg(maxAbsDiff(y, expected))));
            }
        }
    }

    // Prefill products cut the weight into tiles that the pool's threads multiply, under the
    // caller's inference mode.
    void tiledProductsRunOnSeveralThreads()
    {
        const int threads = at::get_num_threads();
        at::set_num_threads(2);
        c10::InferenceMode inference;
        const LinearWeight packed = quantized(randomMatrix(4096, 256, 12), Quantization::Nf4);
        const at::Tensor x = randomMatrix(24, 256, 13).to(at::kBFloat16);
        const at::Tensor expected =
            at::matmul(x.to(at::kFloat), packed.dequantize(at::kBFloat16).to(at::kFloat).t());
        const at::Tensor ours = ops::linear(x, packed);
        at::set_num_threads(threads);
        QVERIFY(maxAbsDiff(ours, expected) <= 3e-2 * expected.abs().max().item<double>());
    }

    // With autograd on, the product dequantizes and gradients reach the input.
    void gradientsFlowThroughPackedWeights()
    {
        const LinearWeight packed = quantized(randomMatrix(16, 64, 8), Quantization::Nf4);
        const at::Tensor x = randomMatrix(2, 64, 9).requires_grad_(true);
        ops::linear(x, packed).sum().backward();
        const at::Tensor expected = packed.dequantize(at::kFloat).sum(0).expand({2, 64});
        QVERIFY(maxAbsDiff(x.grad(), expected) <= 1e-5);
    }
};

QTEST_GUILESS_MAIN(TestQuantKernels)
#include "testquantkernels.moc"
