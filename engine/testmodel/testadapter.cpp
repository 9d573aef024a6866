#include "testmodel/testadapter.h"

#include <filesystem>
#include <fstream>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <nlohmann/json.hpp>

#include "loader/safetensorswriter.h"
#include "model/loraadapter.h"

namespace corolla {

namespace {

// The module's path inside a block, as the family's checkpoints name it.
std::string modulePath(const ModelConfig &config, const std::string &module)
{
    if (config.architecture == Architecture::Bloom || config.architecture == Architecture::Falcon)
        return (module == "query_key_value" || module == "dense" ? "self_attention." : "mlp.")
               + module;
    const bool attention =
        module == "q_proj" || module == "k_proj" || module == "v_proj" || module == "o_proj";
    return (attention ? "self_attn." : "mlp.") + module;
}

// The block prefix of PEFT names and of the test checkpoints' names.
std::string blockPrefix(const ModelConfig &config, std::int64_t block, bool peft)
{
    if (config.architecture == Architecture::Bloom)
        return (peft ? "transformer.h." : "h.") + std::to_string(block) + ".";
    if (config.architecture == Architecture::Falcon)
        return "transformer.h." + std::to_string(block) + ".";
    return "model.layers." + std::to_string(block) + ".";
}

std::vector<LoraTarget> chosenTargets(const ModelConfig &config, const TestAdapterSpec &spec)
{
    std::vector<LoraTarget> chosen;
    for (const LoraTarget &target : loraTargets(config)) {
        if (spec.modules.empty()
            || std::find(spec.modules.begin(), spec.modules.end(), target.module)
                   != spec.modules.end())
            chosen.push_back(target);
    }
    return chosen;
}

std::string peftName(const ModelConfig &config, std::int64_t block, const std::string &module,
                     char matrix)
{
    return "base_model.model." + blockPrefix(config, block, true) + modulePath(config, module)
           + ".lora_" + matrix + ".weight";
}

} // namespace

std::map<std::string, at::Tensor> makeTestAdapterWeights(const ModelConfig &config,
                                                         const TestAdapterSpec &spec)
{
    auto generator = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
    std::map<std::string, at::Tensor> tensors;
    for (std::int64_t block = 0; block < config.numLayers; ++block) {
        for (const LoraTarget &target : chosenTargets(config, spec)) {
            tensors[peftName(config, block, target.module, 'A')] =
                at::randn({spec.rank, target.in}, generator) * 0.1;
            tensors[peftName(config, block, target.module, 'B')] =
                at::randn({target.rows, spec.rank}, generator) * 0.1;
        }
    }
    return tensors;
}

Result<void> writeTestAdapter(const std::string &directory, const ModelConfig &config,
                              const TestAdapterSpec &spec)
{
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error)
        return makeError(ErrorCode::Io, directory + ": " + error.message());
    std::vector<std::string> modules;
    for (const LoraTarget &target : chosenTargets(config, spec))
        modules.push_back(target.module);
    const nlohmann::json adapterConfig{{"peft_type", "LORA"},
                                       {"task_type", "CAUSAL_LM"},
                                       {"r", spec.rank},
                                       {"lora_alpha", spec.alpha},
                                       {"lora_dropout", 0.0},
                                       {"target_modules", modules},
                                       {"bias", "none"},
                                       {"fan_in_fan_out", false},
                                       {"modules_to_save", nullptr},
                                       {"base_model_name_or_path", "test"}};
    std::ofstream file(std::filesystem::path(directory) / "adapter_config.json");
    file << adapterConfig.dump(2);
    if (!file)
        return makeError(ErrorCode::Io, directory + ": cannot write adapter_config.json");
    return writeSafetensors(
        (std::filesystem::path(directory) / "adapter_model.safetensors").string(),
        makeTestAdapterWeights(config, spec));
}

std::map<std::string, at::Tensor> mergeTestAdapter(std::map<std::string, at::Tensor> weights,
                                                   const ModelConfig &config,
                                                   const TestAdapterSpec &spec)
{
    const auto adapter = makeTestAdapterWeights(config, spec);
    const double scale = spec.alpha / double(spec.rank);
    for (std::int64_t block = 0; block < config.numLayers; ++block) {
        for (const LoraTarget &target : chosenTargets(config, spec)) {
            at::Tensor &weight = weights.at(blockPrefix(config, block, false)
                                            + modulePath(config, target.module) + ".weight");
            const at::Tensor delta =
                at::matmul(adapter.at(peftName(config, block, target.module, 'B')),
                           adapter.at(peftName(config, block, target.module, 'A')));
            weight = (weight.to(at::kFloat) + delta * scale).to(weight.scalar_type());
        }
    }
    return weights;
}

} // namespace corolla
