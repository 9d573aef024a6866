#pragma once
// LoRA adapters with deterministic random weights in the PEFT layout, for the tests: what
// `peft` saves for a model of the test families (adapter_config.json and
// adapter_model.safetensors), with B not zero so that the adapter changes the model.
// Thread: any.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "model/modelconfig.h"

namespace corolla {

struct TestAdapterSpec {
    std::int64_t rank = 4;
    double alpha = 8;
    std::vector<std::string> modules; // empty: every projection of the family
    std::uint64_t seed = 0;
};

// The adapter's tensors under their PEFT names
// ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"...), fp32.
std::map<std::string, at::Tensor> makeTestAdapterWeights(const ModelConfig &config,
                                                         const TestAdapterSpec &spec);

// Writes adapter_config.json and adapter_model.safetensors into `directory`.
Result<void> writeTestAdapter(const std::string &directory, const ModelConfig &config,
                              const TestAdapterSpec &spec);

// `weights` (a test checkpoint's tensors) with the adapter merged: W + (alpha / r) B A for
// every adapted projection, as `peft`'s merge_and_unload() computes it.
std::map<std::string, at::Tensor> mergeTestAdapter(std::map<std::string, at::Tensor> weights,
                                                   const ModelConfig &config,
                                                   const TestAdapterSpec &spec);

} // namespace corolla
