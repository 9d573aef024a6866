#include "train/trainingblocks.h"

namespace corolla {

Result<at::Tensor> LocalTrainingBlocks::forward(const at::Tensor &hidden,
                                                const std::vector<std::int64_t> &lengths,
                                                const DeepPrompts &prompts)
{
    return m_blocks.forward(hidden, lengths, m_blocks.begin(), m_blocks.end(),
                            {.prompts = prompts, .adapter = m_adapter});
}

Result<SpanGradients> LocalTrainingBlocks::backward(const at::Tensor &hidden,
                                                    const at::Tensor &gradOutput,
                                                    const std::vector<std::int64_t> &lengths,
                                                    const DeepPrompts &prompts)
{
    return m_blocks.backward(hidden, gradOutput, lengths, m_blocks.begin(), m_blocks.end(),
                             {.prompts = prompts, .adapter = m_adapter});
}

Result<at::Tensor> RemoteTrainingBlocks::forward(const at::Tensor &hidden,
                                                 const std::vector<std::int64_t> &lengths,
                                                 const DeepPrompts &prompts)
{
    return m_remote.forward(hidden, lengths, prompts);
}

Result<SpanGradients> RemoteTrainingBlocks::backward(const at::Tensor &hidden,
                                                     const at::Tensor &gradOutput,
                                                     const std::vector<std::int64_t> &lengths,
                                                     const DeepPrompts &prompts)
{
    return m_remote.backward(hidden, gradOutput, lengths, prompts);
}

} // namespace corolla
