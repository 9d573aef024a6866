#pragma once
// The blocks of a model with trained prompts in front: the first step gets the prompt
// prefix's hidden states before its own, and its answer without them, so that generation
// and chats see only their own positions. Deep prompts travel with the inner runner (see
// LocalBlockRunner and RemoteSessionOptions::prompts).
// Thread: the inner runner's.

#include <memory>

#include "model/generation.h"

namespace corolla {

class PromptedRunner : public BlockRunner {
public:
    // `prefix` [P, hidden]; `inner` must have room for P more positions than the sequence.
    PromptedRunner(std::unique_ptr<BlockRunner> inner, at::Tensor prefix);
    Result<at::Tensor> step(const at::Tensor &hidden, const std::stop_token &stop) override;
    std::int64_t position() const override;

private:
    std::unique_ptr<BlockRunner> m_inner;
    at::Tensor m_prefix;
};

} // namespace corolla
