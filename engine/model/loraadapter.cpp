#include "model/loraadapter.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <ATen/TensorOperators.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/zeros.h>
#include <nlohmann/json.hpp>

#include "loader/safetensorsfile.h"
#include "loader/tensorsource.h"
#include "model/ops.h"
#include "model/placement.h"

namespace corolla {

namespace {

using Json = nlohmann::json;

std::string shapeText(const at::Tensor &tensor)
{
    std::string text = "[";
    for (std::int64_t i = 0; i < tensor.dim(); ++i)
        text += (i ? ", " : "") + std::to_string(tensor.size(i));
    return text + "]";
}

// What adapter_config.json says, once checked.
struct AdapterConfig {
    std::int64_t rank = 0;
    double alpha = 0;
    bool rsLora = false;
    std::optional<std::set<std::string>> targetModules; // a list; nullopt for a regex or none
};

Result<AdapterConfig> readAdapterConfig(const std::string &path)
{
    auto fail = [&](const std::string &why) {
        return makeError(ErrorCode::Format, path + ": " + why);
    };
    std::ifstream file(path, std::ios::binary);
    if (!file)
        return makeError(ErrorCode::NotFound,
                         "cannot open " + path + ": not a LoRA adapter folder");
    std::stringstream text;
    text << file.rdbuf();
    const Json json = Json::parse(text.str(), nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return fail("not a JSON object");
    if (json.contains("peft_type") && json["peft_type"] != "LORA")
        return fail("peft_type is " + json["peft_type"].dump()
                    + "; only LORA adapters are supported");
    AdapterConfig config;
    if (!json.contains("r") || !json["r"].is_number_integer() || json["r"].get<std::int64_t>() < 1
        || json["r"].get<std::int64_t>() > 65536)
        return fail("\"r\" must be a positive integer");
    config.rank = json["r"].get<std::int64_t>();
    if (!json.contains("lora_alpha") || !json["lora_alpha"].is_number()
        || !(json["lora_alpha"].get<double>() > 0)
        || !std::isfinite(json["lora_alpha"].get<double>()))
        return fail("\"lora_alpha\" must be a positive number");
    config.alpha = json["lora_alpha"].get<double>();
    auto flag = [&](const char *key) {
        return json.value(key, Json()).is_boolean() && json[key].get<bool>();
    };
    config.rsLora = flag("use_rslora");
    if (flag("use_dora"))
        return fail("DoRA adapters (use_dora) are not supported");
    if (flag("fan_in_fan_out"))
        return fail("fan_in_fan_out adapters (transposed weights) are not supported");
    if (json.contains("bias") && json["bias"].is_string() && json["bias"] != "none")
        return fail("adapters that train biases (bias " + json["bias"].dump()
                    + ") are not supported");
    for (const char *key : {"rank_pattern", "alpha_pattern"}) {
        if (json.contains(key) && json[key].is_object() && !json[key].empty())
            return fail(std::string("per-module ranks or alphas (") + key + ") are not supported");
    }
    if (json.contains("modules_to_save") && json["modules_to_save"].is_array()
        && !json["modules_to_save"].empty())
        return fail("adapters with fully trained modules (modules_to_save) are not supported");
    if (json.contains("target_modules") && json["target_modules"].is_array()) {
        config.targetModules.emplace();
        for (const Json &module : json["target_modules"]) {
            if (!module.is_string())
                return fail("\"target_modules\" must list strings");
            config.targetModules->insert(module.get<std::string>());
        }
    }
    return config;
}

// "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight" -> the module path
// "model.layers.3.self_attn.q_proj" and the matrix ('A' or 'B'); nullopt for other names.
std::optional<std::pair<std::string, char>> parseLoraName(std::string name)
{
    const std::string prefix = "base_model.model.";
    if (name.rfind(prefix, 0) == 0)
        name.erase(0, prefix.size());
    for (char matrix : {'A', 'B'}) {
        for (const std::string suffix : {std::string(".lora_") + matrix + ".weight",
                                         std::string(".lora_") + matrix + ".default.weight"}) {
            if (name.size() > suffix.size()
                && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                return std::make_pair(name.substr(0, name.size() - suffix.size()), matrix);
        }
    }
    return std::nullopt;
}

} // namespace

Result<LoraAdapter> LoraAdapter::load(const std::string &directory, const std::string &name,
                                      const ModelConfig &config, std::int64_t begin,
                                      std::int64_t end, at::ScalarType dtype,
                                      const c10::Device &device)
{
    const std::filesystem::path folder(directory);
    auto adapterConfig = readAdapterConfig((folder / "adapter_config.json").string());
    if (!adapterConfig)
        return adapterConfig.error();
    const std::string weightsPath = (folder / "adapter_model.safetensors").string();
    if (!std::filesystem::exists(weightsPath)
        && std::filesystem::exists(folder / "adapter_model.bin"))
        return makeError(ErrorCode::Format,
                         directory
                             + " holds adapter_model.bin; only adapter_model.safetensors "
                               "is read (save the adapter with safe_serialization)");
    auto file = SafetensorsFile::open(weightsPath);
    if (!file)
        return file.error();
    auto fail = [&](const std::string &why) {
        return makeError(ErrorCode::Format, weightsPath + ": " + why);
    };

    std::map<std::string, LoraTarget> targets;
    for (LoraTarget &target : loraTargets(config))
        targets.emplace(target.module, target);
    const std::int64_t rank = adapterConfig->rank;
    // (block, module) -> A and B of the blocks this adapter is loaded for.
    std::map<std::pair<std::int64_t, std::string>, std::array<at::Tensor, 2>> found;
    std::set<std::string> modules;
    bool anyLora = false;
    for (const TensorInfo &info : (*file)->tensors()) {
        const auto parsed = parseLoraName(info.name);
        if (!parsed)
            return fail("unexpected tensor " + info.name
                        + " (a LoRA adapter holds lora_A and "
                          "lora_B weights only)");
        anyLora = true;
        const auto &[path, matrix] = *parsed;
        const std::int64_t block = blockIndexOf(path + ".weight");
        const std::string module = path.substr(path.rfind('.') + 1);
        if (block < 0)
            return fail("the adapter changes " + path
                        + ", outside the transformer blocks; "
                          "only adapters of the blocks' projections are supported");
        if (block >= config.numLayers)
            return fail(info.name + " is for block " + std::to_string(block) + "; the model has "
                        + std::to_string(config.numLayers));
        if (!targets.count(module))
            return fail("the adapter changes " + path
                        + ", which is not a projection of this "
                          "model's blocks");
        if (adapterConfig->targetModules && !adapterConfig->targetModules->count(module))
            return fail(module + " is not among the target_modules of adapter_config.json");
        if (block < begin || block >= end)
            continue;
        auto tensor = (*file)->read(info.name);
        if (!tensor)
            return tensor.error();
        const LoraTarget &target = targets.at(module);
        const std::vector<std::int64_t> expected =
            matrix == 'A' ? std::vector<std::int64_t>{rank, target.in}
                          : std::vector<std::int64_t>{target.rows, rank};
        if (!tensor->sizes().equals(expected))
            return fail(info.name + " is " + shapeText(*tensor) + ", not ["
                        + std::to_string(expected[0]) + ", " + std::to_string(expected[1]) + "] (r "
                        + std::to_string(rank) + ")");
        if (!tensor->isfinite().all().item<bool>())
            return fail(info.name + " holds NaN or infinite values");
        found[{block, module}][matrix == 'A' ? 0 : 1] = tensor->to(at::kFloat);
        modules.insert(module);
    }
    if (!anyLora)
        return fail("the file holds no LoRA weights");

    LoraAdapter adapter;
    adapter.m_name = name;
    adapter.m_rank = rank;
    adapter.m_alpha = adapterConfig->alpha;
    adapter.m_scale =
        adapterConfig->alpha / (adapterConfig->rsLora ? std::sqrt(double(rank)) : double(rank));
    adapter.m_begin = begin;
    adapter.m_end = end;
    adapter.m_dtype = dtype;
    adapter.m_modules.assign(modules.begin(), modules.end());
    adapter.m_blocks.resize(std::size_t(end - begin));
    // Rows of each projection: the end of its last module.
    std::array<std::int64_t, kProjections> projectionRows{};
    for (const auto &[module, target] : targets) {
        std::int64_t &rows = projectionRows[std::size_t(target.projection)];
        rows = std::max(rows, target.rowOffset + target.rows);
    }
    for (std::int64_t block = begin; block < end; ++block) {
        for (std::size_t p = 0; p < kProjections; ++p) {
            std::vector<at::Tensor> downs;
            std::vector<std::pair<const LoraTarget *, at::Tensor>> ups;
            for (const auto &[module, target] : targets) {
                if (std::size_t(target.projection) != p)
                    continue;
                const auto entry = found.find({block, module});
                if (entry == found.end())
                    continue;
                const auto &[a, b] = entry->second;
                if (!a.defined() || !b.defined())
                    return fail("block " + std::to_string(block) + " " + module + " has lora_"
                                + (a.defined() ? "A" : "B") + " without lora_"
                                + (a.defined() ? "B" : "A"));
                downs.push_back(a);
                ups.emplace_back(&target, b);
            }
            if (downs.empty())
                continue;
            at::Tensor up = at::zeros({projectionRows[p], rank * std::int64_t(ups.size())});
            for (std::size_t i = 0; i < ups.size(); ++i)
                up.narrow(0, ups[i].first->rowOffset, ups[i].first->rows)
                    .narrow(1, rank * std::int64_t(i), rank)
                    .copy_(ups[i].second * adapter.m_scale);
            adapter.m_blocks[std::size_t(block - begin)][p] = {
                toDevice(at::cat(downs).to(dtype).contiguous(), device),
                toDevice(up.to(dtype).contiguous(), device)};
        }
    }
    return adapter;
}

std::int64_t LoraAdapter::bytes() const
{
    std::int64_t total = 0;
    for (const auto &block : m_blocks) {
        for (const LoraWeights &weights : block) {
            if (weights.down.defined())
                total += std::int64_t(weights.down.nbytes() + weights.up.nbytes());
        }
    }
    return total;
}

const LoraWeights *LoraAdapter::weights(std::int64_t block, Projection projection) const
{
    if (block < m_begin || block >= m_end)
        return nullptr;
    const LoraWeights &weights = m_blocks[std::size_t(block - m_begin)][std::size_t(projection)];
    return weights.down.defined() ? &weights : nullptr;
}

at::Tensor adaptedLinear(const at::Tensor &x, const LinearWeight &weight, const at::Tensor &bias,
                         const StepContext &ctx, Projection projection)
{
    at::Tensor y = ops::linear(x, weight, bias, ctx.backend);
    const LoraWeights *lora = ctx.adapter ? ctx.adapter->weights(ctx.block, projection) : nullptr;
    if (!lora)
        return y;
    return y + at::matmul(at::matmul(x, lora->down.t()), lora->up.t());
}

} // namespace corolla
