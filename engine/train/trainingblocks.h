#pragma once
// Every block of a model, as training runs them: whole padded sequences forward, and the
// gradients back. On this machine (a BlockSpan of the whole model) or through a swarm
// (RemoteForward, which re-runs a failed server's span elsewhere with the same result).
// Thread: one thread at a time per object; a trainer gives each parallel chunk its own.

#include <cstdint>
#include <vector>

#include "client/remoteforward.h"
#include "model/blockspan.h"

namespace corolla {

class TrainingBlocks {
public:
    virtual ~TrainingBlocks() = default;
    // hidden [batch, T, hiddenSize] through every block, with deep prompts of every block
    // when defined; lengths as in BlockSpan::forward().
    virtual Result<at::Tensor> forward(const at::Tensor &hidden,
                                       const std::vector<std::int64_t> &lengths,
                                       const DeepPrompts &prompts) = 0;
    // The gradients of <forward(hidden), gradOutput> for the inputs and the deep prompts.
    virtual Result<SpanGradients> backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                           const std::vector<std::int64_t> &lengths,
                                           const DeepPrompts &prompts) = 0;
};

class LocalTrainingBlocks : public TrainingBlocks {
public:
    // `adapter`, when given, is a LoRA adapter the blocks run with (frozen like them).
    explicit LocalTrainingBlocks(const BlockSpan &blocks, const LoraAdapter *adapter = nullptr)
        : m_blocks(blocks)
        , m_adapter(adapter)
    {
    }
    Result<at::Tensor> forward(const at::Tensor &hidden, const std::vector<std::int64_t> &lengths,
                               const DeepPrompts &prompts) override;
    Result<SpanGradients> backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                   const std::vector<std::int64_t> &lengths,
                                   const DeepPrompts &prompts) override;

private:
    const BlockSpan &m_blocks;
    const LoraAdapter *m_adapter;
};

class RemoteTrainingBlocks : public TrainingBlocks {
public:
    RemoteTrainingBlocks(SwarmClient &client, std::int64_t numBlocks, RemoteForwardOptions options)
        : m_remote(client, numBlocks, options)
    {
    }
    Result<at::Tensor> forward(const at::Tensor &hidden, const std::vector<std::int64_t> &lengths,
                               const DeepPrompts &prompts) override;
    Result<SpanGradients> backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                   const std::vector<std::int64_t> &lengths,
                                   const DeepPrompts &prompts) override;
    int failovers() const { return m_remote.failovers(); }
    const std::vector<std::string> &lastRoute() const { return m_remote.lastRoute(); }

private:
    RemoteForward m_remote;
};

} // namespace corolla
