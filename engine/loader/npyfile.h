#pragma once
// NumPy .npy files (format 1.0, little-endian float32), the exchange format of `corolla logits`.
// Thread: any.

#include <string>

#include <ATen/core/Tensor.h>

#include "core/result.h"

namespace corolla {

// Writes `tensor` (converted to float32, C order) to `path`.
Result<void> writeNpy(const std::string &path, const at::Tensor &tensor);
// Reads a little-endian float32 C-order .npy file.
Result<at::Tensor> readNpy(const std::string &path);

} // namespace corolla
