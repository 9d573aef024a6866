#include "model/block.h"

#include <algorithm>
#include <sstream>

#include <ATen/ops/cat.h>

#include "model/arch/bloomblock.h"
#include "model/arch/falconblock.h"
#include "model/arch/gemmablock.h"
#include "model/arch/llamablock.h"
#include "model/arch/mixtralblock.h"
#include "model/placement.h"
#include "model/weightmemory.h"

namespace corolla {

namespace {

std::string shapeText(at::IntArrayRef shape)
{
    std::ostringstream text;
    text << '[';
    for (std::size_t i = 0; i < shape.size(); ++i)
        text << (i ? ", " : "") << shape[i];
    text << ']';
    return text.str();
}

} // namespace

Result<std::unique_ptr<Block>> loadBlock(const ModelConfig &config, const TensorSource &source,
                                         std::int64_t index, at::ScalarType dtype,
                                         Quantization quantization, const c10::Device &device)
{
    if (index < 0 || index >= config.numLayers)
        return makeError(ErrorCode::InvalidArgument, "block " + std::to_string(index)
                                                         + " does not exist; the model has "
                                                         + std::to_string(config.numLayers));
    switch (config.architecture) {
    case Architecture::Llama:
        return LlamaBlock::load(config, source, index, dtype, quantization, device);
    case Architecture::Bloom:
        return BloomBlock::load(config, source, index, dtype, quantization, device);
    case Architecture::Gemma:
        return GemmaBlock::load(config, source, index, dtype, quantization, device);
    case Architecture::Mixtral:
        return MixtralBlock::load(config, source, index, dtype, quantization, device);
    case Architecture::Falcon:
        return FalconBlock::load(config, source, index, dtype, quantization, device);
    }
    return makeError(ErrorCode::Internal, "unknown architecture");
}

std::vector<LoraTarget> loraTargets(const ModelConfig &config)
{
    switch (config.architecture) {
    // Gemma names and stacks its projections as Llama does.
    case Architecture::Llama:
    case Architecture::Gemma: return LlamaBlock::loraTargets(config);
    case Architecture::Mixtral: return MixtralBlock::loraTargets(config);
    case Architecture::Falcon: return FalconBlock::loraTargets(config);
    case Architecture::Bloom: return BloomBlock::loraTargets(config);
    }
    return {};
}

StepPreparation stepPreparation(const ModelConfig &config)
{
    switch (config.architecture) {
    case Architecture::Llama:
    case Architecture::Mixtral: return LlamaBlock::stepPreparation(config);
    case Architecture::Gemma: return GemmaBlock::stepPreparation(config);
    case Architecture::Falcon: return FalconBlock::stepPreparation(config);
    case Architecture::Bloom: return {};
    }
    return {};
}

Result<void> WeightReader::read(const std::string &prefix,
                                const std::vector<WeightSlot> &slots) const
{
    for (const WeightSlot &slot : slots) {
        if (!slot.inCheckpoint)
            continue;
        if (auto *const *linear = std::get_if<LinearWeight *>(&slot.target)) {
            auto weight = projection(prefix, slot);
            if (!weight)
                return weight.error();
            **linear = weight->to(m_device);
            continue;
        }
        auto weight = stacked(prefix, slot);
        if (!weight)
            return weight.error();
        *std::get<at::Tensor *>(slot.target) = std::move(*weight);
    }
    return {};
}

// The parts of a projection stacked along their rows (on the reader's device). Both formats pack
// rows independently, so each part is packed on its own (an error names the checkpoint tensor) and
// the packed rows are stacked.
Result<LinearWeight> WeightReader::projection(const std::string &prefix,
                                              const WeightSlot &slot) const
{
    if (m_quantization == Quantization::None) {
        auto weight = stacked(prefix, slot);
        if (!weight)
            return weight.error();
        return LinearWeight::dense(std::move(*weight));
    }
    std::vector<at::Tensor> codes, scales;
    std::int64_t out = 0, in = 0;
    for (const WeightSlot::Part &part : slot.parts) {
        auto tensor = checked(prefix + part.name, part.shape);
        if (!tensor)
            return tensor.error();
        auto packed = LinearWeight::quantize(*tensor, m_quantization, prefix + part.name);
        if (!packed)
            return packed.error();
        out += packed->outFeatures();
        in = packed->inFeatures();
        codes.push_back(packed->codes());
        scales.push_back(packed->scales());
    }
    // Parts whose absmax are all exact in bf16 hold them so; stacked with one that is not,
    // all are held in fp32.
    const bool mixed = std::any_of(scales.begin(), scales.end(), [&](const at::Tensor &s) {
        return s.scalar_type() != scales.front().scalar_type();
    });
    if (mixed) {
        for (at::Tensor &s : scales)
            s = s.to(at::kFloat);
    }
    return LinearWeight::packed(m_quantization, held(at::cat(codes)), held(at::cat(scales)), out,
                                in);
}

at::Tensor WeightReader::held(const at::Tensor &tensor) const
{
    return m_device.is_cpu() ? copyToWeightMemory(tensor) : toDevice(tensor, m_device);
}

// The slot's parts in the compute dtype, stacked, in weight memory or on the device.
Result<at::Tensor> WeightReader::stacked(const std::string &prefix, const WeightSlot &slot) const
{
    std::vector<at::Tensor> parts;
    for (const WeightSlot::Part &part : slot.parts) {
        auto tensor = require(prefix + part.name, part.shape);
        if (!tensor)
            return tensor.error();
        parts.push_back(std::move(*tensor));
    }
    return held(parts.size() == 1 ? parts.front() : at::cat(parts));
}

Result<at::Tensor> WeightReader::checked(const std::string &name,
                                         const std::vector<std::int64_t> &shape) const
{
    auto tensor = m_source.read(name);
    if (!tensor)
        return tensor.error();
    if (tensor->sizes() != at::IntArrayRef(shape))
        return makeError(ErrorCode::Format, "tensor '" + name + "' has shape "
                                                + shapeText(tensor->sizes())
                                                + ", config.json implies " + shapeText(shape));
    return std::move(*tensor);
}

Result<at::Tensor> WeightReader::require(const std::string &name,
                                         std::vector<std::int64_t> shape) const
{
    auto tensor = checked(name, shape);
    if (!tensor)
        return tensor.error();
    at::Tensor weight = tensor->to(m_dtype).contiguous();
    // Tensors made under InferenceMode can never join a backward pass; weights must.
    if (weight.is_inference())
        weight = weight.clone();
    return toDevice(weight, m_device);
}

Result<at::Tensor> WeightReader::optional(const std::string &name,
                                          std::vector<std::int64_t> shape) const
{
    if (!m_source.contains(name))
        return at::Tensor();
    return require(name, std::move(shape));
}

std::string WeightReader::pick(std::initializer_list<std::string> candidates) const
{
    for (const std::string &name : candidates) {
        if (m_source.contains(name))
            return name;
    }
    return *candidates.begin();
}

std::int64_t weightBytes(std::initializer_list<at::Tensor> tensors,
                         std::initializer_list<const LinearWeight *> projections)
{
    std::int64_t total = 0;
    for (const at::Tensor &tensor : tensors) {
        if (tensor.defined())
            total += std::int64_t(tensor.nbytes());
    }
    for (const LinearWeight *projection : projections)
        total += projection->bytes();
    return total;
}

} // namespace corolla
