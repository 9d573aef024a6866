#pragma once
// The parts of a model outside the blocks, which the client runs: token embeddings (with
// BLOOM's embedding LayerNorm, Gemma's scaling), the final norm and the LM head (tied or not;
// Gemma 2 soft-caps its logits).
// Thread: const methods may run on any compute thread.

#include <memory>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "loader/tensorsource.h"
#include "model/modelconfig.h"
#include "model/placement.h"

namespace corolla {

class ClientHead {
public:
    // The head of `config` in `dtype` on `placement`'s device.
    static Result<std::unique_ptr<ClientHead>> load(const ModelConfig &config,
                                                    const TensorSource &source,
                                                    at::ScalarType dtype,
                                                    const Placement &placement = {});
    // The same from a checkpoint folder; only these tensors are read, the blocks stay on disk.
    static Result<std::unique_ptr<ClientHead>> open(const std::string &directory,
                                                    const ModelConfig &config, at::ScalarType dtype,
                                                    const Placement &placement = {});

    // ids [batch, T] int64 (on any device) -> hidden states [batch, T, hiddenSize] in the
    // compute dtype on the head's device. Ids outside [0, vocabSize) are an error, not an
    // out-of-bounds read.
    Result<at::Tensor> embed(const at::Tensor &ids) const;
    // hidden [..., hiddenSize] (on any device) -> logits [..., vocabSize] in fp32 on the head's
    // device; recorded for autograd when `hidden` requires grad (training), else computed in
    // inference mode.
    at::Tensor logits(const at::Tensor &hidden) const;

    const Placement &placement() const { return m_placement; }

    std::int64_t lmHeadBytes() const { return std::int64_t(m_lmHead.nbytes()); }
    at::ScalarType dtype() const { return m_embeddings.scalar_type(); } // the compute dtype

private:
    ModelConfig m_config;
    Placement m_placement;
    at::Tensor m_embeddings;                         // [vocab, hidden]
    at::Tensor m_embeddingNorm, m_embeddingNormBias; // BLOOM only, [hidden]
    at::Tensor m_embeddingScale;                     // Gemma only, a scalar
    at::Tensor m_finalNorm, m_finalNormBias;         // [hidden]; bias for BLOOM's and
                                                     // Falcon's LayerNorm;
                                                     // Gemma: fp32 1 + weight
    at::Tensor m_lmHead;                             // [vocab, hidden]; shares storage when tied
};

} // namespace corolla
