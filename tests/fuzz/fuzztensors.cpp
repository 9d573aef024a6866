// libFuzzer target: tensors as peers send them. Any bytes either fail to decode with an error
// or decode to finite values of the announced shape; what decodes re-encodes losslessly in
// fp32 and within each lossy codec's bound.

#include <cmath>
#include <cstdint>
#include <limits>

#include "fuzzseeds.h"
#include "net/corolla.pb.h"
#include "net/tensorcodec.h"

using namespace corolla;

namespace {

constexpr std::int64_t kMaxElements = 1 << 16;

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    const QString folder = fuzz::seedFolder();
    if (folder.isEmpty())
        return 0;
    const std::vector<float> values{1.0f, -2.0f, 0.5f, 3.0f, 0.25f, -1.0f, 1e-3f, 65000.0f};
    for (proto::Codec codec :
         {proto::CODEC_FP32, proto::CODEC_BF16, proto::CODEC_FP16, proto::CODEC_INT8_BLOCK})
        fuzz::writeSeed(folder, QString::fromLatin1(codecName(codec)),
                        encodeTensor(values, {2, 4}, codec, 4)->SerializeAsString());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    proto::Tensor tensor;
    if (!tensor.ParseFromArray(data, int(size)))
        return 0;
    auto decoded = decodeTensor(tensor, kMaxElements);
    if (!decoded)
        return 0;
    std::int64_t elements = 1;
    for (std::int64_t extent : decoded->shape) {
        if (extent < 0)
            fuzz::violated("a negative extent was accepted");
        elements *= extent;
    }
    if (elements != std::int64_t(decoded->values.size()) || elements > kMaxElements)
        fuzz::violated("the element count does not match the shape or the limit");
    float absmax = 0.0f;
    for (float value : decoded->values) {
        if (!std::isfinite(value))
            fuzz::violated("a non-finite value was accepted");
        absmax = std::max(absmax, std::abs(value));
    }
    auto exact = encodeTensor(decoded->values, decoded->shape, proto::CODEC_FP32);
    if (!exact)
        fuzz::violated("decoded values do not encode as fp32");
    auto again = decodeTensor(*exact, kMaxElements);
    if (!again || again->values != decoded->values || again->shape != decoded->shape)
        fuzz::violated("fp32 does not round-trip");
    // bf16 refuses only values that would round to infinity (within 2^-8 of FLT_MAX).
    auto bf16 = encodeTensor(decoded->values, decoded->shape, proto::CODEC_BF16);
    if (!bf16 && absmax < 3.389e38f)
        fuzz::violated("bf16 refused values inside its range");
    if (bf16) {
        auto bf16Back = decodeTensor(*bf16, kMaxElements);
        if (!bf16Back)
            fuzz::violated("bf16 does not decode what it encoded");
        for (std::size_t i = 0; i < decoded->values.size(); ++i) {
            const float x = decoded->values[i];
            if (std::abs(bf16Back->values[i] - x) > std::ldexp(std::abs(x), -8))
                fuzz::violated("bf16 error above 2^-8 |x|");
        }
    }
    auto int8 = encodeTensor(decoded->values, decoded->shape, proto::CODEC_INT8_BLOCK);
    if (int8) {
        auto int8Back = decodeTensor(*int8, kMaxElements);
        if (!int8Back)
            fuzz::violated("int8 does not decode what it encoded");
        // The bound of corolla.proto, with float rounding, and the smallest normal float as
        // slack: a block whose absmax is near the subnormals has a scale that underflows.
        for (std::size_t i = 0; i < decoded->values.size(); ++i)
            if (std::abs(int8Back->values[i] - decoded->values[i])
                > absmax / 254.0f * 1.0001f + std::numeric_limits<float>::min())
                fuzz::violated("int8 error above absmax / 254");
    }
    return 0;
}
