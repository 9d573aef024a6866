// The kernel pool that the decode kernels run on, the kernels through it, and weight memory.

#include <atomic>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include <QtTest>

#include "core/kernelpool.h"
#include "model/gemvbf16.h"
#include "model/weightmemory.h"

using namespace corolla;

namespace {

// Runs a loop over [0, n) that counts how often each index was visited.
std::vector<int> visits(KernelPool &pool, std::int64_t n, std::int64_t grain, int maxThreads)
{
    std::vector<std::atomic<int>> counts(std::size_t(std::max<std::int64_t>(n, 0)));
    pool.parallelFor(n, grain, maxThreads, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i)
            counts[std::size_t(i)].fetch_add(1);
    });
    std::vector<int> result;
    for (const auto &count : counts)
        result.push_back(count.load());
    return result;
}

// The threads that ran some part of a loop.
struct ThreadsSeen {
    void add()
    {
        std::lock_guard lock(mutex);
        ids.insert(std::this_thread::get_id());
    }
    std::mutex mutex;
    std::set<std::thread::id> ids;
};

} // namespace

class TestKernels : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void everyIndexRunsExactlyOnce()
    {
        KernelPool pool(4);
        QCOMPARE(pool.threads(), 4);
        for (std::int64_t n : {0, 1, 2, 7, 64, 1000, 4097}) {
            for (std::int64_t grain : {1, 3, 64, 5000}) {
                for (int maxThreads : {1, 2, 4, 16}) {
                    const std::vector<int> counts = visits(pool, n, grain, maxThreads);
                    QCOMPARE(std::int64_t(counts.size()), n);
                    for (int count : counts)
                        QCOMPARE(count, 1);
                }
            }
        }
    }

    void chunksRespectTheGrain()
    {
        KernelPool pool(3);
        std::mutex mutex;
        std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
        pool.parallelFor(100, 7, 3, [&](std::int64_t begin, std::int64_t end) {
            std::lock_guard lock(mutex);
            ranges.emplace_back(begin, end);
        });
        QCOMPARE(ranges.size(), std::size_t(15)); // 14 of 7, the last of 2
        for (const auto &[begin, end] : ranges) {
            QCOMPARE(begin % 7, 0);
            QCOMPARE(end, std::min<std::int64_t>(100, begin + 7));
        }
    }

    void oneThreadMeansTheCaller()
    {
        KernelPool pool(4);
        ThreadsSeen seen;
        pool.parallelFor(64, 1, 1, [&](std::int64_t, std::int64_t) { seen.add(); });
        QCOMPARE(seen.ids.size(), std::size_t(1));
        QVERIFY(*seen.ids.begin() == std::this_thread::get_id());
    }

    void workersShareTheWork()
    {
        KernelPool pool(4);
        ThreadsSeen seen;
        // 64 chunks of 2 ms: the workers wake long before the caller could do them all.
        pool.parallelFor(64, 1, 4, [&](std::int64_t, std::int64_t) {
            seen.add();
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        });
        QVERIFY2(seen.ids.size() >= 2, "the loop ran on one thread only");
    }

    void concurrentCallersAllFinishCorrectly()
    {
        // Several threads share one pool: one loop uses it at a time, the others run on their
        // callers; bursts come and go meanwhile. Every loop must still cover its range once.
        KernelPool pool(3);
        std::atomic<int> failures{0};
        std::vector<std::thread> callers;
        for (int caller = 0; caller < 4; ++caller) {
            callers.emplace_back([&pool, &failures, caller] {
                for (int round = 0; round < 300; ++round) {
                    std::optional<KernelPool::Burst> burst;
                    if ((round + caller) % 3 == 0)
                        burst.emplace(pool);
                    const std::int64_t n = 50 + (round * 37 + caller * 11) % 400;
                    for (int count : visits(pool, n, 1 + round % 9, 3)) {
                        if (count != 1)
                            failures.fetch_add(1);
                    }
                }
            });
        }
        for (std::thread &caller : callers)
            caller.join();
        QCOMPARE(failures.load(), 0);
    }

    void nestedLoopsRunInline()
    {
        KernelPool pool(2);
        std::atomic<std::int64_t> total{0};
        pool.parallelFor(8, 1, 2, [&](std::int64_t, std::int64_t) {
            pool.parallelFor(10, 1, 2,
                             [&](std::int64_t begin, std::int64_t end) { total += end - begin; });
        });
        QCOMPARE(total.load(), std::int64_t(80));
    }

    void aTaskExceptionReachesTheCaller()
    {
        KernelPool pool(3);
        std::atomic<int> ran{0};
        bool thrown = false;
        try {
            pool.parallelFor(32, 1, 3, [&](std::int64_t begin, std::int64_t) {
                ran.fetch_add(1);
                if (begin == 5)
                    throw std::runtime_error("chunk 5 failed");
            });
        } catch (const std::runtime_error &error) {
            thrown = QByteArray(error.what()) == "chunk 5 failed";
        }
        QVERIFY(thrown);
        QCOMPARE(ran.load(), 32); // the other chunks still ran
        // The pool is usable afterwards, and the error does not come back.
        for (int count : visits(pool, 100, 4, 3))
            QCOMPARE(count, 1);
    }

    void poolsStartAndStopCleanly()
    {
        for (int round = 0; round < 50; ++round) {
            KernelPool pool(1 + round % 4);
            if (round % 2 == 0) {
                KernelPool::Burst burst(pool);
                QCOMPARE(visits(pool, 20, 1, 4).size(), std::size_t(20));
            }
            if (round % 5 == 0) // let the workers fall asleep before stopping them
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    void productsThroughThePoolMatchLibtorch()
    {
        // Row counts that leave partial chunks and a tail of the inner dimension.
        const at::Tensor weights = at::randn({1001, 515});
        const at::Tensor x = at::randn({3, 515});
        const at::Tensor expected = at::matmul(x, weights.t());
        if (hasFp32Gemv()) {
            at::Tensor y = at::zeros({3, 1001});
            gemvFp32(x.data_ptr<float>(), 3, weights.data_ptr<float>(), 1001, 515, nullptr,
                     y.data_ptr<float>());
            QVERIFY(at::allclose(y, expected, 1e-4, 1e-4));
        }
        if (hasBf16Gemv()) {
            const at::Tensor w16 = weights.to(at::kBFloat16);
            const at::Tensor x16 = x.to(at::kBFloat16);
            at::Tensor y = at::zeros({3, 1001}, at::kBFloat16);
            gemvBf16(x16.data_ptr<c10::BFloat16>(), 3, w16.data_ptr<c10::BFloat16>(), 1001, 515,
                     nullptr, y.data_ptr<c10::BFloat16>());
            const at::Tensor reference = at::matmul(x16.to(at::kFloat), w16.to(at::kFloat).t());
            QVERIFY(at::allclose(y.to(at::kFloat), reference, 2e-2, 5e-2));
        }
        if (!hasFp32Gemv() && !hasBf16Gemv())
            QSKIP("this processor has neither AVX-512 nor AVX2: the products go to libtorch");
    }

    void avx2ProductsMatchTheExactProduct()
    {
        if (!hasAvx2Gemv())
            QSKIP("this processor has no AVX2 and FMA");
        for (std::int64_t rows : {1, 2, 3, 4}) {
            for (std::int64_t k : {7, 8, 64, 515, 2048 + 17}) {
                const std::int64_t n = 67;
                const at::Tensor x = at::randn({rows, k});
                const at::Tensor w = at::randn({n, k});
                const at::Tensor bias = at::randn({n});
                const QString where = QStringLiteral("rows %1, k %2").arg(rows).arg(k);

                at::Tensor y = at::zeros({rows, n});
                gemvFp32Avx2(x.data_ptr<float>(), rows, w.data_ptr<float>(), n, k,
                             bias.data_ptr<float>(), y.data_ptr<float>());
                const at::Tensor exact =
                    at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()) + bias.to(at::kDouble);
                QVERIFY2(at::allclose(y.to(at::kDouble), exact, 1e-5, 1e-4 * std::sqrt(k)),
                         qPrintable(where));

                // bf16: products exact in fp32, so only the fp32 sums and the final rounding
                // to bf16 separate the kernel from the exact product of the bf16 values.
                const at::Tensor x16 = x.to(at::kBFloat16), w16 = w.to(at::kBFloat16);
                const at::Tensor bias16 = bias.to(at::kBFloat16);
                at::Tensor y16 = at::zeros({rows, n}, at::kBFloat16);
                gemvBf16Avx2(x16.data_ptr<c10::BFloat16>(), rows, w16.data_ptr<c10::BFloat16>(), n,
                             k, bias16.data_ptr<c10::BFloat16>(), y16.data_ptr<c10::BFloat16>());
                const at::Tensor exact16 = at::matmul(x16.to(at::kDouble), w16.to(at::kDouble).t())
                                           + bias16.to(at::kDouble);
                const at::Tensor error = (y16.to(at::kDouble) - exact16).abs();
                const at::Tensor allowed = exact16.abs() * (1.0 / 256.0) + 1e-4 * std::sqrt(k);
                QVERIFY2((error <= allowed).all().item<bool>(), qPrintable(where));
            }
        }
    }

    void weightMemoryHoldsAnExactCopy()
    {
        const at::Tensor small = at::randn({16, 16});
        QVERIFY(at::equal(copyToWeightMemory(small), small));
        const at::Tensor large = at::randn({700, 1024}).to(at::kBFloat16); // 1.4 MB
        const at::Tensor copy = copyToWeightMemory(large);
        QVERIFY(at::equal(copy, large));
        QVERIFY(copy.data_ptr() != large.data_ptr());
#ifdef __linux__
        QCOMPARE(reinterpret_cast<std::uintptr_t>(copy.data_ptr()) % (std::uintptr_t(2) << 20),
                 std::uintptr_t(0));
#endif
    }

    void theWarmerOutlivesFreedWeights()
    {
        // Weights come and go while the warmer reads them: it must never touch freed memory
        // (under a sanitizer or when unmapped pages fault, this crashes if it does).
        std::optional<KeepWeightsWarm> warming;
        warming.emplace();
        for (int round = 0; round < 200; ++round) {
            std::vector<at::Tensor> weights;
            for (int i = 0; i < 3; ++i)
                weights.push_back(copyToWeightMemory(at::zeros({(1 + i) * 600, 1024})));
            if (round % 20 == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(12)); // a warming round
            if (round == 100)
                warming.reset();
            if (round == 150)
                warming.emplace();
        }
    }
};

QTEST_GUILESS_MAIN(TestKernels)
#include "testkernels.moc"
