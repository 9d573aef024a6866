#pragma once
// The block families the model tests run over: the tiny test model of each family with fp32
// random weights, and the helpers the comparisons share. Free of Qt, so that the device check
// (testdevice.cpp) builds where only libtorch is.

#include <map>
#include <stdexcept>
#include <string>

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randn.h>

#include "model/linearweight.h"
#include "model/modelconfig.h"
#include "testmodel/testmodel.h"

namespace corolla::testing {

struct Family {
    ModelConfig config;
    std::map<std::string, at::Tensor> weights;
};

// Every family, and BLOOM with the residual taken after the input LayerNorm.
inline const char *const kFamilies[] = {
    "llama",  "mistral",    "mixtral",    "qwen2",        "qwen3", "gemma2",       "gemma3",
    "falcon", "falcon-1ln", "falcon-mqa", "falcon-alibi", "bloom", "bloom-post-ln"};

inline Family makeFamily(const std::string &family, std::uint64_t seed, bool postLayerNorm = false)
{
    TestModelSpec spec{family, "tiny", at::kFloat, seed};
    auto text = testModelConfigJson(spec);
    auto config = ModelConfig::parse(*text, family);
    config->residualFromNormedInput = postLayerNorm;
    return {*config, makeTestWeights(*config, seed, at::kFloat)};
}

// A family of kFamilies by name.
inline Family familyByName(const std::string &name, std::uint64_t seed)
{
    if (name == "bloom-post-ln")
        return makeFamily("bloom", seed, true);
    return makeFamily(name, seed);
}

inline at::Tensor randomHidden(std::vector<std::int64_t> shape, std::uint64_t seed)
{
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat));
}

// Compared on the host, in double.
inline double maxAbsDiff(const at::Tensor &a, const at::Tensor &b)
{
    return (a.cpu().to(at::kDouble) - b.cpu().to(at::kDouble)).abs().max().item<double>();
}

// The checkpoint tensors that are packed: every linear projection of a block (Mixtral's
// experts, not its router).
inline bool isProjection(const std::string &name)
{
    for (const char *suffix :
         {".q_proj.weight", ".k_proj.weight", ".v_proj.weight", ".o_proj.weight",
          ".gate_proj.weight", ".up_proj.weight", ".down_proj.weight", ".query_key_value.weight",
          ".self_attention.dense.weight", ".dense_h_to_4h.weight", ".dense_4h_to_h.weight",
          ".w1.weight", ".w2.weight", ".w3.weight"}) {
        const std::string tail(suffix);
        if (name.size() > tail.size()
            && name.compare(name.size() - tail.size(), tail.size(), tail) == 0)
            return true;
    }
    return false;
}

// The checkpoint with every projection replaced by its dequantized fp32 values (the same
// checkpoint for Quantization::None); `packed` counts the projections.
inline std::map<std::string, at::Tensor>
dequantizedCheckpoint(std::map<std::string, at::Tensor> weights, Quantization quantization,
                      int &packed)
{
    packed = 0;
    if (quantization == Quantization::None)
        return weights;
    for (auto &[name, tensor] : weights) {
        if (!isProjection(name))
            continue;
        auto quantized = LinearWeight::quantize(tensor, quantization, name);
        if (!quantized)
            throw std::runtime_error(quantized.error().message);
        tensor = quantized->dequantize(at::kFloat);
        ++packed;
    }
    return weights;
}

} // namespace corolla::testing
