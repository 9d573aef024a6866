#pragma once
// Tensors on the wire: float32 values in memory, one of four codecs in a message.
//   fp32        exact
//   bf16        round to nearest even; |error| <= 2^-8 |x|
//   fp16        round to nearest even; |error| <= 2^-11 |x| for 2^-14 <= |x| <= 65504,
//               <= 2^-25 below; larger values do not fit and are refused on encode
//   int8-block  per block of `blockSize` values, q = round(x / s) with s = absmax / 127;
//               |error| <= s / 2 = absmax(block) / 254
// Decoding checks everything a hostile peer could get wrong (shape, sizes, codec, scales,
// non-finite values) and allocates nothing before the sizes are known to agree.
// Thread: any; pure functions.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "net/corolla.pb.h"

namespace corolla {

constexpr std::uint32_t kDefaultInt8BlockSize = 64;

struct HostTensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

// Encodes `values` (row-major, shape `shape`). Fails for fp16 when a value is outside its
// range and for non-finite values under any lossy codec.
Result<proto::Tensor> encodeTensor(std::span<const float> values,
                                   const std::vector<std::int64_t> &shape, proto::Codec codec,
                                   std::uint32_t blockSize = kDefaultInt8BlockSize);

// Checks the message and returns its shape; the element count may not exceed maxElements.
Result<std::vector<std::int64_t>> checkTensor(const proto::Tensor &tensor,
                                              std::int64_t maxElements);
// Decodes into `out`, which holds exactly the shape's element count; fails on NaN or
// infinity. Call checkTensor first.
Result<void> decodeTensorInto(const proto::Tensor &tensor, std::span<float> out);
Result<HostTensor> decodeTensor(const proto::Tensor &tensor, std::int64_t maxElements);

const char *codecName(proto::Codec codec);
// "fp32", "bf16", "fp16", "int8"; an error naming the choices otherwise.
Result<proto::Codec> parseCodec(const std::string &name);

std::uint16_t floatToBf16(float value);
float bf16ToFloat(std::uint16_t bits);
std::uint16_t floatToFp16(float value);
float fp16ToFloat(std::uint16_t bits);

} // namespace corolla
