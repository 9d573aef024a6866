#include "net/tensorcodec.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace corolla {

namespace {

constexpr float kFp16Max = 65504.0f;
constexpr std::uint32_t kMaxInt8BlockSize = 1u << 20;

std::size_t bytesPerElement(proto::Codec codec)
{
    switch (codec) {
    case proto::CODEC_FP32: return 4;
    case proto::CODEC_BF16:
    case proto::CODEC_FP16: return 2;
    case proto::CODEC_INT8_BLOCK: return 1;
    default: return 0;
    }
}

template <typename T> void storeLittleEndian(char *out, T value)
{
    static_assert(std::endian::native == std::endian::little, "big-endian hosts need byte swaps");
    std::memcpy(out, &value, sizeof value);
}

template <typename T> T loadLittleEndian(const char *in)
{
    T value;
    std::memcpy(&value, in, sizeof value);
    return value;
}

Error nonFinite(std::int64_t index)
{
    return makeError(ErrorCode::InvalidArgument,
                     "tensor element " + std::to_string(index) + " is not a finite number");
}

} // namespace

std::uint16_t floatToBf16(float value)
{
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return std::uint16_t((bits >> 16) | 0x40); // NaN stays NaN
    const std::uint32_t roundingBias = 0x7fffu + ((bits >> 16) & 1u);
    return std::uint16_t((bits + roundingBias) >> 16);
}

float bf16ToFloat(std::uint16_t bits)
{
    return std::bit_cast<float>(std::uint32_t(bits) << 16);
}

std::uint16_t floatToFp16(float value)
{
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
    const auto sign = std::uint16_t((bits >> 16) & 0x8000u);
    const std::uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u)
        return sign | 0x7e00u; // NaN
    if (magnitude >= 0x477ff000u)
        return sign | 0x7c00u; // rounds past 65504: infinity
    if (magnitude < 0x38800000u) {
        // Below 2^-14 the half is subnormal, a multiple of 2^-24; scaling by 2^24 is exact
        // and nearbyint rounds to nearest even.
        const float scaled = std::fabs(value) * 16777216.0f;
        return std::uint16_t(sign | std::uint16_t(std::nearbyint(scaled)));
    }
    const std::uint32_t exponent = (magnitude >> 23) - 127 + 15;
    const std::uint32_t mantissa = magnitude & 0x7fffffu;
    std::uint32_t half = (exponent << 10) | (mantissa >> 13);
    const std::uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
        ++half; // a carry into the exponent is still the right value
    return std::uint16_t(sign | half);
}

float fp16ToFloat(std::uint16_t bits)
{
    const std::uint32_t sign = std::uint32_t(bits & 0x8000u) << 16;
    const std::uint32_t exponent = (bits >> 10) & 0x1fu;
    const std::uint32_t mantissa = bits & 0x3ffu;
    if (exponent == 0) {
        const float value = std::ldexp(float(mantissa), -24);
        return sign ? -value : value;
    }
    if (exponent == 31)
        return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
    return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

Result<proto::Tensor> encodeTensor(std::span<const float> values,
                                   const std::vector<std::int64_t> &shape, proto::Codec codec,
                                   std::uint32_t blockSize)
{
    std::int64_t count = 1;
    for (std::int64_t dimension : shape)
        count *= dimension;
    if (count != std::int64_t(values.size()))
        return makeError(ErrorCode::InvalidArgument, "tensor shape does not match its values");
    const std::size_t width = bytesPerElement(codec);
    if (width == 0)
        return makeError(ErrorCode::InvalidArgument, "unknown tensor codec");

    proto::Tensor tensor;
    tensor.set_codec(codec);
    for (std::int64_t dimension : shape)
        tensor.add_shape(dimension);
    std::string &data = *tensor.mutable_data();
    data.resize(values.size() * width);
    char *out = data.data();
    const std::size_t n = values.size();
    if (codec != proto::CODEC_FP32) {
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(values[i]))
                return nonFinite(std::int64_t(i));
    }
    switch (codec) {
    case proto::CODEC_FP32:
        for (std::size_t i = 0; i < n; ++i)
            storeLittleEndian(out + 4 * i, values[i]);
        break;
    case proto::CODEC_BF16:
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint16_t bits = floatToBf16(values[i]);
            // Within 2^-8 of FLT_MAX a value rounds to infinity, which no receiver accepts.
            if ((bits & 0x7f80u) == 0x7f80u)
                return makeError(ErrorCode::InvalidArgument, "tensor element " + std::to_string(i)
                                                                 + " (" + std::to_string(values[i])
                                                                 + ") is outside the bf16 range");
            storeLittleEndian(out + 2 * i, bits);
        }
        break;
    case proto::CODEC_FP16:
        for (std::size_t i = 0; i < n; ++i) {
            if (std::fabs(values[i]) > kFp16Max)
                return makeError(ErrorCode::InvalidArgument, "tensor element " + std::to_string(i)
                                                                 + " (" + std::to_string(values[i])
                                                                 + ") is outside the fp16 range");
            storeLittleEndian(out + 2 * i, floatToFp16(values[i]));
        }
        break;
    case proto::CODEC_INT8_BLOCK: {
        if (blockSize == 0 || blockSize > kMaxInt8BlockSize)
            return makeError(ErrorCode::InvalidArgument, "int8 block size out of range");
        tensor.set_block_size(blockSize);
        const std::size_t blocks = (n + blockSize - 1) / blockSize;
        std::string &scales = *tensor.mutable_scales();
        scales.resize(blocks * 4);
        for (std::size_t block = 0; block < blocks; ++block) {
            const std::size_t begin = block * blockSize, end = std::min(n, begin + blockSize);
            float absmax = 0.0f;
            for (std::size_t i = begin; i < end; ++i)
                absmax = std::max(absmax, std::fabs(values[i]));
            const float scale = absmax / 127.0f;
            storeLittleEndian(scales.data() + 4 * block, scale);
            for (std::size_t i = begin; i < end; ++i) {
                const float q = scale > 0.0f ? std::nearbyint(values[i] / scale) : 0.0f;
                out[i] =
                    static_cast<char>(static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f)));
            }
        }
        break;
    }
    default: break;
    }
    return tensor;
}

Result<std::vector<std::int64_t>> checkTensor(const proto::Tensor &tensor, std::int64_t maxElements)
{
    const std::size_t width = bytesPerElement(tensor.codec());
    if (width == 0)
        return makeError(ErrorCode::InvalidArgument,
                         "unknown tensor codec " + std::to_string(int(tensor.codec())));
    if (tensor.shape_size() == 0 || tensor.shape_size() > 8)
        return makeError(ErrorCode::InvalidArgument, "tensor rank must be 1 to 8");
    std::vector<std::int64_t> shape(tensor.shape().begin(), tensor.shape().end());
    std::int64_t count = 1;
    for (std::int64_t dimension : shape) {
        if (dimension < 0)
            return makeError(ErrorCode::InvalidArgument, "negative tensor dimension");
        if (dimension != 0 && count > maxElements / dimension)
            return makeError(ErrorCode::InvalidArgument,
                             "tensor has more than " + std::to_string(maxElements) + " elements");
        count *= dimension;
    }
    if (tensor.data().size() != std::size_t(count) * width)
        return makeError(ErrorCode::InvalidArgument,
                         "tensor data holds " + std::to_string(tensor.data().size())
                             + " bytes; its shape and codec need "
                             + std::to_string(std::size_t(count) * width));
    if (tensor.codec() == proto::CODEC_INT8_BLOCK) {
        const std::uint32_t blockSize = tensor.block_size();
        if (blockSize == 0 || blockSize > kMaxInt8BlockSize)
            return makeError(ErrorCode::InvalidArgument, "int8 block size out of range");
        const std::size_t blocks = (std::size_t(count) + blockSize - 1) / blockSize;
        if (tensor.scales().size() != blocks * 4)
            return makeError(ErrorCode::InvalidArgument,
                             "int8 tensor has the wrong number of scales");
    } else if (!tensor.scales().empty() || tensor.block_size() != 0) {
        return makeError(ErrorCode::InvalidArgument, "scales on a tensor that is not int8-block");
    }
    return shape;
}

Result<void> decodeTensorInto(const proto::Tensor &tensor, std::span<float> out)
{
    const std::size_t n = out.size();
    const char *in = tensor.data().data();
    if (tensor.data().size() != n * bytesPerElement(tensor.codec()))
        return makeError(ErrorCode::InvalidArgument, "tensor size mismatch");
    switch (tensor.codec()) {
    case proto::CODEC_FP32:
        for (std::size_t i = 0; i < n; ++i)
            out[i] = loadLittleEndian<float>(in + 4 * i);
        break;
    case proto::CODEC_BF16:
        for (std::size_t i = 0; i < n; ++i)
            out[i] = bf16ToFloat(loadLittleEndian<std::uint16_t>(in + 2 * i));
        break;
    case proto::CODEC_FP16:
        for (std::size_t i = 0; i < n; ++i)
            out[i] = fp16ToFloat(loadLittleEndian<std::uint16_t>(in + 2 * i));
        break;
    case proto::CODEC_INT8_BLOCK: {
        const std::uint32_t blockSize = tensor.block_size();
        const char *scales = tensor.scales().data();
        for (std::size_t i = 0; i < n; ++i) {
            const float scale = loadLittleEndian<float>(scales + 4 * (i / blockSize));
            out[i] = float(static_cast<std::int8_t>(in[i])) * scale;
        }
        break;
    }
    default: return makeError(ErrorCode::InvalidArgument, "unknown tensor codec");
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(out[i]))
            return nonFinite(std::int64_t(i));
    return {};
}

Result<HostTensor> decodeTensor(const proto::Tensor &tensor, std::int64_t maxElements)
{
    auto shape = checkTensor(tensor, maxElements);
    if (!shape)
        return shape.error();
    HostTensor host;
    std::int64_t count = 1;
    for (std::int64_t dimension : *shape)
        count *= dimension;
    host.shape = std::move(*shape);
    host.values.resize(std::size_t(count));
    if (auto decoded = decodeTensorInto(tensor, host.values); !decoded)
        return decoded.error();
    return host;
}

const char *codecName(proto::Codec codec)
{
    switch (codec) {
    case proto::CODEC_FP32: return "fp32";
    case proto::CODEC_BF16: return "bf16";
    case proto::CODEC_FP16: return "fp16";
    case proto::CODEC_INT8_BLOCK: return "int8";
    default: return "unknown";
    }
}

Result<proto::Codec> parseCodec(const std::string &name)
{
    for (proto::Codec codec :
         {proto::CODEC_FP32, proto::CODEC_BF16, proto::CODEC_FP16, proto::CODEC_INT8_BLOCK})
        if (name == codecName(codec))
            return codec;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown wire dtype '" + name + "' (choose fp32, bf16, fp16 or int8)");
}

} // namespace corolla
