#pragma once
// A whole model on this machine: the client head and every block. The local engine behind
// `corolla logits`, `corolla generate` and the local benchmark.
// Thread: one compute thread at a time.

#include <memory>
#include <string>
#include <vector>

#include "model/blockspan.h"
#include "model/clienthead.h"

namespace corolla {

class LocalModel {
public:
    // Loads config.json and the weights of `directory`; the blocks' projections are packed as
    // `quantization` (the head stays in `dtype`); everything on `placement`'s device.
    static Result<std::unique_ptr<LocalModel>> open(const std::string &directory,
                                                    at::ScalarType dtype,
                                                    Quantization quantization = Quantization::None,
                                                    const Placement &placement = {});
    // Builds the model from tensors already at hand (test weights, for instance).
    static Result<std::unique_ptr<LocalModel>>
    fromSource(const ModelConfig &config, const TensorSource &source, at::ScalarType dtype,
               Quantization quantization = Quantization::None, const Placement &placement = {});

    const ModelConfig &config() const { return m_blocks->config(); }
    const ClientHead &head() const { return *m_head; }
    const BlockSpan &blocks() const { return *m_blocks; }

    // Logits of every position of one sequence: [ids.size(), vocabSize] fp32 on the host.
    // `inspect`, when set, receives every block's named intermediates on the way.
    Result<at::Tensor> logits(const std::vector<std::int64_t> &ids,
                              const IntermediateHook &inspect = {}) const;

private:
    std::unique_ptr<ClientHead> m_head;
    std::unique_ptr<BlockSpan> m_blocks;
};

} // namespace corolla
