#include "wire/wiretensor.h"

#include <ATen/ATen.h>

#include "model/placement.h"
#include "net/tensorcodec.h"

namespace corolla {

Result<at::Tensor> tensorFromWire(const proto::Tensor &tensor, std::int64_t maxElements)
{
    auto shape = checkTensor(tensor, maxElements);
    if (!shape)
        return shape.error();
    at::Tensor result = at::empty(*shape, at::kFloat);
    if (auto decoded = decodeTensorInto(
            tensor, std::span<float>(result.data_ptr<float>(), std::size_t(result.numel())));
        !decoded)
        return decoded.error();
    return result;
}

Result<proto::Tensor> tensorToWire(const at::Tensor &tensor, proto::Codec codec)
{
    const at::Tensor values = toHost(tensor.to(at::kFloat).contiguous());
    return encodeTensor(
        std::span<const float>(values.data_ptr<float>(), std::size_t(values.numel())),
        values.sizes().vec(), codec);
}

} // namespace corolla
