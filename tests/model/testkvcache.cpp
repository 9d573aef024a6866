// The KV cache's bookkeeping and the step context's positions and masks.

#include <limits>

#include <ATen/TensorOperators.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>

#include <QtTest>

#include "model/kvcache.h"

using namespace corolla;

class TestKvCache : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void positionsAndCausalMask()
    {
        // Sequence 0 holds 2 tokens and adds 3; sequence 1 holds none and adds 1 (2 padding rows).
        const StepContext ctx = makeStepContext({2, 0}, {3, 1}, 3, 0);
        QVERIFY(!ctx.uniform);
        QCOMPARE(ctx.contextLength, 5);
        QVERIFY(at::equal(
            ctx.positions,
            at::tensor(std::vector<std::int64_t>{2, 3, 4, 0, 1, 2}, at::kLong).view({2, 3})));
        const float inf = std::numeric_limits<float>::infinity();
        const at::Tensor expected =
            at::tensor(std::vector<float>{0, 0, 0,    -inf, -inf, 0, 0,    0,    0,    -inf,
                                          0, 0, 0,    0,    0,    0, -inf, -inf, -inf, -inf,
                                          0, 0, -inf, -inf, -inf, 0, 0,    0,    -inf, -inf})
                .view({2, 1, 3, 5});
        QVERIFY(at::equal(ctx.causalMask, expected));
        QVERIFY(!ctx.slidingMask.defined());
    }

    void slidingMaskHidesOldKeys()
    {
        const StepContext ctx = makeStepContext({4}, {1}, 1, 2);
        const float inf = std::numeric_limits<float>::infinity();
        // Query position 4 with a window of 2 sees keys 3 and 4 only.
        QVERIFY(
            at::equal(ctx.slidingMask,
                      at::tensor(std::vector<float>{-inf, -inf, -inf, 0, 0}).view({1, 1, 1, 5})));
        QVERIFY(ctx.uniform);
    }

    void capacityAndShapeChecks()
    {
        KvCache cache(2, 2, 1, 4, 8, at::kFloat);
        QCOMPARE(cache.bytes(), std::int64_t(2 * 2 * (2 * 1 * 4 * 8) * 4));
        auto ok = cache.beginStep({4, 2}, 4, 0);
        QVERIFY(ok.ok());
        cache.commitStep(*ok);
        QCOMPARE(cache.lengths(), (std::vector<std::int64_t>{4, 2}));
        auto full = cache.beginStep({1, 1}, 1, 0);
        QVERIFY(!full.ok());
        QCOMPARE(full.error().code, ErrorCode::ResourceExhausted);
        QVERIFY(cache.beginStep({0, 2}, 2, 0).ok());
        QVERIFY(!cache.beginStep({0}, 1, 0).ok());     // wrong batch
        QVERIFY(!cache.beginStep({0, 3}, 2, 0).ok());  // more new tokens than rows
        QVERIFY(!cache.beginStep({-1, 0}, 1, 0).ok()); // negative
    }
};

QTEST_GUILESS_MAIN(TestKvCache)
#include "testkvcache.moc"
