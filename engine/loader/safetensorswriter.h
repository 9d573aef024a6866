#pragma once
// Writes tensors as safetensors files: one file, or shards with a Hugging Face index.
// Thread: any.

#include <map>
#include <string>

#include <ATen/core/Tensor.h>

#include "core/result.h"

namespace corolla {

// Writes `tensors` (F32, F16 or BF16, any layout) to one safetensors file at `path`.
Result<void> writeSafetensors(const std::string &path,
                              const std::map<std::string, at::Tensor> &tensors,
                              const std::map<std::string, std::string> &metadata = {});

// Writes `tensors` into `directory` as `model.safetensors` when `shards` is 1, else as
// `model-0000i-of-0000n.safetensors` files of similar size plus `model.safetensors.index.json`.
Result<void> writeCheckpointWeights(const std::string &directory,
                                    const std::map<std::string, at::Tensor> &tensors, int shards);

} // namespace corolla
