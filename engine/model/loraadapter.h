#pragma once
// LoRA adapters (Hu et al. 2021) in the PEFT layout, applied without merging: a projection
// W of an adapted module computes W x + s · B (A x), with A [r, in], B [out, r] and
// s = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora). A server holds the adapters of
// its blocks beside the frozen (possibly quantized) weights, and a request names the one to
// use. Files: adapter_config.json (r, lora_alpha, target_modules...) and
// adapter_model.safetensors (base_model.model.<module>.lora_A.weight / lora_B.weight).
// Thread: a loaded adapter is immutable; any thread may read it.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "model/linearweight.h"
#include "model/modelconfig.h"
#include "model/stepcontext.h"

namespace corolla {

// The four projections every block family has, in the order of its forward pass.
enum class Projection { AttentionIn, AttentionOut, MlpIn, MlpOut };
inline constexpr std::size_t kProjections = 4;

// Where a checkpoint module's rows sit in a block's projection: Llama's q_proj is rows
// [0, heads · headDim) of the fused q, k, v projection, say.
struct LoraTarget {
    std::string module; // the last part of the module's name: "q_proj", "query_key_value"
    Projection projection;
    std::int64_t rowOffset = 0, rows = 0, in = 0;
};

// One projection's low-rank update, fused over the modules that share it: the rows of
// `down` are the stacked A matrices, `up` holds each B (times the scale) at its module's rows
// and ranks, zero elsewhere. In the compute dtype.
struct LoraWeights {
    at::Tensor down; // [sum of ranks, in]
    at::Tensor up;   // [out, sum of ranks]
};

class LoraAdapter {
public:
    // Reads the adapter in `directory` for the blocks [begin, end) of a model of `config`, in
    // `dtype` on `device`; `name` is what requests call it. Errors name the file and what does not
    // fit: a missing or malformed file, a module this family does not have or that clients hold
    // (embeddings, LM head), shapes against the config, non-finite values, and PEFT options
    // that change the computation in ways not supported (DoRA, fan_in_fan_out, per-module
    // ranks, trained biases or modules_to_save).
    static Result<LoraAdapter> load(const std::string &directory, const std::string &name,
                                    const ModelConfig &config, std::int64_t begin, std::int64_t end,
                                    at::ScalarType dtype,
                                    const c10::Device &device = c10::Device(c10::kCPU));

    const std::string &name() const { return m_name; }
    std::int64_t rank() const { return m_rank; }
    double alpha() const { return m_alpha; }
    double scale() const { return m_scale; }
    std::int64_t begin() const { return m_begin; }
    std::int64_t end() const { return m_end; }
    at::ScalarType dtype() const { return m_dtype; }
    // The adapted modules ("q_proj", "v_proj"...), sorted.
    const std::vector<std::string> &modules() const { return m_modules; }
    std::int64_t bytes() const;

    // The update of `projection` in model block `block`; null when it is not adapted there.
    const LoraWeights *weights(std::int64_t block, Projection projection) const;

private:
    std::string m_name;
    std::int64_t m_rank = 0, m_begin = 0, m_end = 0;
    double m_alpha = 0, m_scale = 0;
    at::ScalarType m_dtype = at::kFloat;
    std::vector<std::string> m_modules;
    std::vector<std::array<LoraWeights, kProjections>> m_blocks; // [end - begin]
};

// The modules of `config`'s family an adapter may target, with their place in the blocks.
std::vector<LoraTarget> loraTargets(const ModelConfig &config);

// ops::linear(x, weight, bias) plus the low-rank update of `projection` in the block that
// ctx says runs now, when ctx carries an adapter that adapts it.
at::Tensor adaptedLinear(const at::Tensor &x, const LinearWeight &weight, const at::Tensor &bias,
                         const StepContext &ctx, Projection projection);

} // namespace corolla
