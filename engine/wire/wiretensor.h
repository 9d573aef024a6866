#pragma once
// Between wire tensors (net/tensorcodec) and torch tensors, for servers and clients.
// Thread: any.

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "net/corolla.pb.h"

namespace corolla {

// A float32 tensor from a checked wire tensor; NaN and infinity are errors.
Result<at::Tensor> tensorFromWire(const proto::Tensor &tensor, std::int64_t maxElements);
// The tensor (any float dtype) in `codec`.
Result<proto::Tensor> tensorToWire(const at::Tensor &tensor, proto::Codec codec);

} // namespace corolla
