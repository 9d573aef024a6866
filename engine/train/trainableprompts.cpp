#include "train/trainableprompts.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/zeros.h>

#include "loader/safetensorsfile.h"
#include "loader/safetensorswriter.h"
#include "model/clienthead.h"
#include "model/placement.h"

namespace corolla {

namespace {

constexpr const char *kPrefixName = "prompt_embeddings";
constexpr const char *kDeepName = "intermediate_prompt_embeddings";
constexpr std::int64_t kMaxPrefixLength = 4096;

std::string shapeText(const at::Tensor &tensor)
{
    std::string text = "[";
    for (std::int64_t i = 0; i < tensor.dim(); ++i)
        text += (i ? ", " : "") + std::to_string(tensor.size(i));
    return text + "]";
}

} // namespace

std::string_view promptMethodName(PromptMethod method)
{
    return method == PromptMethod::DeepPTune ? "deep_ptune" : "ptune";
}

Result<PromptMethod> promptMethodFromName(std::string_view name)
{
    if (name == "ptune")
        return PromptMethod::PTune;
    if (name == "deep_ptune")
        return PromptMethod::DeepPTune;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown tuning method '" + std::string(name) + "': use ptune or deep_ptune");
}

Result<TrainablePrompts> TrainablePrompts::initial(const ModelConfig &config,
                                                   const ClientHead &head, PromptMethod method,
                                                   std::int64_t prefixLength, std::uint64_t seed)
{
    if (prefixLength < 1 || prefixLength > kMaxPrefixLength)
        return makeError(ErrorCode::InvalidArgument, "the prefix length must be between 1 and "
                                                         + std::to_string(kMaxPrefixLength)
                                                         + ", not " + std::to_string(prefixLength));
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    const at::Tensor ids =
        at::randint(config.vocabSize, {1, prefixLength}, generator, at::TensorOptions(at::kLong));
    auto embedded = head.embed(ids);
    if (!embedded)
        return embedded.error();
    TrainablePrompts prompts;
    prompts.method = method;
    // The prompts live on the host, whatever the head's device: the optimiser and files read
    // them there.
    prompts.prefix = toHost((*embedded)[0].to(at::kFloat)).clone();
    if (method == PromptMethod::DeepPTune)
        prompts.deep = at::zeros({config.numLayers, 1, prefixLength, config.hiddenSize});
    return prompts;
}

Result<void> TrainablePrompts::save(const std::string &path, const std::string &modelId) const
{
    std::map<std::string, at::Tensor> tensors{{kPrefixName, prefix}};
    if (deep.defined())
        tensors[kDeepName] = deep.squeeze(1);
    return writeSafetensors(path, tensors,
                            {{"model", modelId},
                             {"method", std::string(promptMethodName(method))},
                             {"prefix_length", std::to_string(prefixLength())}});
}

Result<TrainablePrompts> TrainablePrompts::load(const std::string &path, const ModelConfig &config,
                                                const std::string &modelId)
{
    auto file = SafetensorsFile::open(path);
    if (!file)
        return file.error();
    auto fail = [&](const std::string &why) {
        return makeError(ErrorCode::Format, path + ": " + why);
    };
    const auto &metadata = (*file)->metadata();
    const auto savedFor = metadata.find("model");
    if (!modelId.empty() && (savedFor == metadata.end() || savedFor->second != modelId))
        return makeError(ErrorCode::InvalidArgument,
                         path + " was trained for the model "
                             + (savedFor == metadata.end() ? "(not recorded)" : savedFor->second)
                             + ", not for this one (" + modelId + ")");
    if (!(*file)->find(kPrefixName))
        return fail(std::string("no '") + kPrefixName + "' tensor: not a prompts file");
    auto prefix = (*file)->read(kPrefixName);
    if (!prefix)
        return prefix.error();
    if (prefix->dim() != 2 || prefix->size(0) < 1 || prefix->size(0) > kMaxPrefixLength
        || prefix->size(1) != config.hiddenSize)
        return fail(std::string(kPrefixName) + " is " + shapeText(*prefix) + ", not [prefix, "
                    + std::to_string(config.hiddenSize) + "] for this model");
    TrainablePrompts prompts;
    prompts.prefix = prefix->to(at::kFloat);
    if (savedFor != metadata.end())
        prompts.modelId = savedFor->second;
    if ((*file)->find(kDeepName)) {
        auto deep = (*file)->read(kDeepName);
        if (!deep)
            return deep.error();
        if (deep->dim() != 3 || deep->size(0) != config.numLayers
            || deep->size(1) != prefix->size(0) || deep->size(2) != config.hiddenSize)
            return fail(std::string(kDeepName) + " is " + shapeText(*deep) + ", not ["
                        + std::to_string(config.numLayers) + ", " + std::to_string(prefix->size(0))
                        + ", " + std::to_string(config.hiddenSize) + "] for this model");
        prompts.method = PromptMethod::DeepPTune;
        prompts.deep = deep->to(at::kFloat).unsqueeze(1).contiguous();
    }
    if (const auto found = metadata.find("method");
        found != metadata.end() && found->second != promptMethodName(prompts.method))
        return fail("the metadata says " + found->second + " but the tensors are "
                    + std::string(promptMethodName(prompts.method)) + " prompts");
    if (!prompts.prefix.isfinite().all().item<bool>()
        || (prompts.deep.defined() && !prompts.deep.isfinite().all().item<bool>()))
        return fail("the prompts hold NaN or infinite values");
    return prompts;
}

} // namespace corolla
