#pragma once
// The Mixtral block: Mistral's pre-RMSNorm rotary grouped-query attention, then a sparse
// mixture of SwiGLU experts. A router scores every expert, softmax in fp32, keeps the top k,
// renormalises their weights over the chosen ones and sums the chosen experts'
// w2(silu(w1 x) * w3 x) with those weights; a token reads only its chosen experts' weights.
// Checkpoint names: model.layers.<i>.{self_attn,block_sparse_moe.gate,
// block_sparse_moe.experts.<e>.w1/w2/w3,...}.
// Thread: forward() may run on any compute thread.

#include "model/arch/groupedattention.h"
#include "model/block.h"

namespace corolla {

class MixtralBlock : public Block {
public:
    static Result<std::unique_ptr<Block>> load(const ModelConfig &config,
                                               const TensorSource &source, std::int64_t index,
                                               at::ScalarType dtype, Quantization quantization,
                                               const c10::Device &device);

    MixtralBlock(const ModelConfig &config, std::int64_t index);

    // q_proj, k_proj, v_proj, o_proj: adapters of the attention (not of the experts).
    static std::vector<LoraTarget> loraTargets(const ModelConfig &config);

    at::Tensor forward(const at::Tensor &hidden, LayerCache &cache,
                       const StepContext &ctx) const override;
    std::int64_t weightBytes() const override;
    // The attention, norms, router and expertsPerToken of the experts.
    std::int64_t tokenWeightBytes() const override;

private:
    // hidden [N, hidden] -> the weighted sum of each row's chosen experts, [N, hidden].
    at::Tensor experts(const at::Tensor &hidden, ComputeBackend backend) const;
    // Bytes of the attention, norms and router; of all experts.
    std::int64_t sharedBytes() const;
    std::int64_t expertBytes() const;

    std::int64_t m_intermediate, m_expertsPerToken;
    double m_eps;

    at::Tensor m_inputNorm; // [hidden]
    GroupedAttention m_attention;
    at::Tensor m_postNorm;              // [hidden]
    at::Tensor m_router;                // [experts, hidden], in the compute dtype
    std::vector<LinearWeight> m_gateUp; // per expert [2 * intermediate, hidden]: w1, w3
    std::vector<LinearWeight> m_down;   // per expert [hidden, intermediate]: w2
};

} // namespace corolla
