#pragma once
// One transformer block with its weights, and the loader that builds the right kind.
// Thread: forward() is const and may run on any compute thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "loader/tensorsource.h"
#include "model/kvcache.h"
#include "model/linearweight.h"
#include "model/loraadapter.h"
#include "model/modelconfig.h"
#include "model/stepcontext.h"

namespace corolla {

class Block {
public:
    virtual ~Block() = default;

    // hidden [batch, T, hiddenSize] in the compute dtype -> the same shape; appends the
    // step's keys and values to `cache` and attends over everything cached before.
    virtual at::Tensor forward(const at::Tensor &hidden, LayerCache &cache,
                               const StepContext &ctx) const = 0;
    // Bytes of all weights, as held in memory.
    virtual std::int64_t weightBytes() const = 0;
    // Bytes of the weights one token reads (decoding): all of them, but for a mixture of
    // experts only the experts a token is routed to.
    virtual std::int64_t tokenWeightBytes() const { return weightBytes(); }
};

// Loads block `index` of `config` from `source`, converted to `dtype` (fp32 or bf16), its
// projection weights packed as `quantization`, onto `device`.
Result<std::unique_ptr<Block>> loadBlock(const ModelConfig &config, const TensorSource &source,
                                         std::int64_t index, at::ScalarType dtype,
                                         Quantization quantization = Quantization::None,
                                         const c10::Device &device = c10::Device(c10::kCPU));

// What a family computes once per step for all blocks of a span, before the first: it fills
// the StepContext fields the family's blocks read (Llama's rotary tables).
using StepPreparation = std::function<void(StepContext &ctx, at::ScalarType dtype)>;
// The step preparation of `config`'s family; empty when its blocks need none (BLOOM).
StepPreparation stepPreparation(const ModelConfig &config);

// One weight of a block and where it comes from: the checkpoint tensors named (after the
// block's prefix) with the shapes config.json implies, stacked along their first dimension
// (q, k and v into one projection, say). A weight the config says the checkpoint lacks (the
// biases of a model without) stays undefined. A projection's target is a LinearWeight, packed
// as the reader's quantization; every other weight's is a tensor in the compute dtype.
struct WeightSlot {
    struct Part {
        std::string name;
        std::vector<std::int64_t> shape;
    };
    std::variant<at::Tensor *, LinearWeight *> target;
    std::vector<Part> parts;
    bool inCheckpoint = true;
};

// Reads named weights, checks their shapes against the config, converts them to the compute
// dtype (or packs projections) in memory the engine owns: weight memory on the CPU, the
// device's memory otherwise (each tensor goes there as soon as it is read, so that a model
// never sits whole in host memory). Errors name the tensor and both shapes.
class WeightReader {
public:
    WeightReader(const TensorSource &source, at::ScalarType dtype,
                 Quantization quantization = Quantization::None,
                 const c10::Device &device = c10::Device(c10::kCPU))
        : m_source(source)
        , m_dtype(dtype)
        , m_quantization(quantization)
        , m_device(device)
    {
    }

    const c10::Device &device() const { return m_device; }

    // Every slot's weight, in weight memory (see weightmemory.h); the first error otherwise.
    Result<void> read(const std::string &prefix, const std::vector<WeightSlot> &slots) const;
    Result<at::Tensor> require(const std::string &name, std::vector<std::int64_t> shape) const;
    // An undefined tensor when the source has no tensor of that name.
    Result<at::Tensor> optional(const std::string &name, std::vector<std::int64_t> shape) const;
    // The first of `candidates` that the source contains, or the first one when none does.
    std::string pick(std::initializer_list<std::string> candidates) const;
    // `tensor` where the reader keeps weights: in weight memory on the CPU, else on the device.
    at::Tensor held(const at::Tensor &tensor) const;

private:
    // The tensor as the checkpoint holds it, its shape checked.
    Result<at::Tensor> checked(const std::string &name,
                               const std::vector<std::int64_t> &shape) const;
    Result<at::Tensor> stacked(const std::string &prefix, const WeightSlot &slot) const;
    Result<LinearWeight> projection(const std::string &prefix, const WeightSlot &slot) const;

    const TensorSource &m_source;
    at::ScalarType m_dtype;
    Quantization m_quantization;
    c10::Device m_device;
};

// Bytes of the given weights as held in memory; undefined ones count nothing.
std::int64_t weightBytes(std::initializer_list<at::Tensor> tensors,
                         std::initializer_list<const LinearWeight *> projections);

} // namespace corolla
