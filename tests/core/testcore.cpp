// The core's value types: results and how they chain, compute dtypes and devices by name, the
// processor's identification.

#include <QtTest>

#include "core/compute.h"
#include "core/processorinfo.h"
#include "core/result.h"

using namespace corolla;

namespace {

Result<int> half(int value)
{
    if (value % 2 != 0)
        return makeError(ErrorCode::InvalidArgument, std::to_string(value) + " is odd");
    return value / 2;
}

} // namespace

class TestCore : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void andThenChainsValuesAndStopsAtTheFirstError()
    {
        int calls = 0;
        auto counted = [&calls](int value) {
            ++calls;
            return half(value);
        };
        QCOMPARE(*half(24).andThen(counted).andThen(counted), 3); // 24 -> 12 -> 6 -> 3
        QCOMPARE(calls, 2);

        calls = 0;
        auto odd = half(6).andThen(counted).andThen(counted); // 6 -> 3, odd: the last never runs
        QVERIFY(!odd);
        QCOMPARE(odd.error().message, std::string("3 is odd"));
        QCOMPARE(calls, 1);

        calls = 0;
        auto early = half(7).andThen(counted);
        QVERIFY(!early);
        QCOMPARE(early.error().message, std::string("7 is odd"));
        QCOMPARE(calls, 0); // nothing runs after an error

        // The next step may change the value's type.
        auto text =
            half(8).andThen([](int value) -> Result<std::string> { return std::to_string(value); });
        QCOMPARE(*text, std::string("4"));
    }

    void computeNamesRoundTrip()
    {
        for (ComputeDtype dtype : {ComputeDtype::Float32, ComputeDtype::BFloat16})
            QCOMPARE(*computeDtypeFromName(computeDtypeName(dtype)), dtype);
        QCOMPARE(*computeDtypeFromName("bfloat16"), ComputeDtype::BFloat16);
        QCOMPARE(*computeDtypeFromName("float32"), ComputeDtype::Float32);
        auto fp16 = computeDtypeFromName("fp16");
        QVERIFY(!fp16);
        QCOMPARE(fp16.error().message, std::string("unknown dtype 'fp16' (choose fp32 or bf16)"));

        QCOMPARE(ComputeDevice::fromName("cpu")->kind, ComputeDevice::Kind::Cpu);
        QVERIFY(*ComputeDevice::fromName("cuda") == ComputeDevice::cuda(0));
        QVERIFY(*ComputeDevice::fromName("cuda:3") == ComputeDevice::cuda(3));
        QCOMPARE(ComputeDevice::fromName("auto")->kind, ComputeDevice::Kind::Auto);
        for (const ComputeDevice &device : {ComputeDevice{}, ComputeDevice::cuda(0),
                                            ComputeDevice::cuda(12), ComputeDevice::automatic()})
            QVERIFY(*ComputeDevice::fromName(device.name()) == device);
        for (const char *bad :
             {"", "gpu", "cuda:", "cuda:-1", "cuda:1x", "cuda:99999999999", "CPU", "Auto"}) {
            auto device = ComputeDevice::fromName(bad);
            QVERIFY2(!device, bad);
            QVERIFY2(device.error().message.find("choose cpu, auto, cuda or cuda:N")
                         != std::string::npos,
                     bad);
        }

        for (ComputeBackend backend : {ComputeBackend::Native, ComputeBackend::Generic})
            QCOMPARE(*computeBackendFromName(computeBackendName(backend)), backend);
        for (const char *bad : {"", "cuda", "Generic", "native "}) {
            auto backend = computeBackendFromName(bad);
            QVERIFY2(!backend, bad);
            QCOMPARE(backend.error().message,
                     "unknown backend '" + std::string(bad) + "' (choose native or generic)");
        }
    }

    void processorSignaturesDecodeAsBothVendorsDocument()
    {
        struct Case {
            std::uint32_t signature;
            int family, model, stepping;
        };
        const Case cases[] = {
            {0x00A10F11, 25, 0x11, 1}, // AMD EPYC 9004 (Zen 4): extended family and model
            {0x00B00F20, 26, 0x02, 0}, // AMD family 1Ah (Zen 5)
            {0x00800F82, 23, 0x08, 2}, // AMD Zen+
            {0x000806F8, 6, 0x8F, 8},  // Intel Sapphire Rapids: family 6 takes the extended model
            {0x00000F29, 15, 0x02, 9}, // Intel NetBurst: family 15, extended family 0
            {0x00010543, 5, 0x04, 3},  // other families ignore the extended model
        };
        for (const Case &c : cases) {
            const ProcessorInfo info = decodeProcessorSignature(c.signature);
            const QByteArray what = QByteArray::number(c.signature, 16);
            QVERIFY2(info.family == c.family, what);
            QVERIFY2(info.model == c.model, what);
            QVERIFY2(info.stepping == c.stepping, what);
        }
#if defined(__x86_64__) || defined(__i386__)
        const ProcessorInfo &here = processorInfo();
        QCOMPARE(here.vendor.size(), std::size_t(12));
        QVERIFY(here.family >= 5);
        QVERIFY(here.brand.empty() || (here.brand.front() != ' ' && here.brand.back() != ' '));
#endif
    }
};

QTEST_GUILESS_MAIN(TestCore)
#include "testcore.moc"
