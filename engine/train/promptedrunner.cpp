#include "train/promptedrunner.h"

#include <algorithm>

#include <ATen/ops/cat.h>

namespace corolla {

PromptedRunner::PromptedRunner(std::unique_ptr<BlockRunner> inner, at::Tensor prefix)
    : m_inner(std::move(inner))
    , m_prefix(std::move(prefix))
{
}

Result<at::Tensor> PromptedRunner::step(const at::Tensor &hidden, const std::stop_token &stop)
{
    if (m_inner->position() > 0)
        return m_inner->step(hidden, stop);
    const std::int64_t prefix = m_prefix.size(0);
    const at::Tensor x = at::cat(
        {m_prefix.to(hidden.scalar_type()).unsqueeze(0).expand({hidden.size(0), -1, -1}), hidden},
        1); // [batch, P + T, hidden]
    auto output = m_inner->step(x, stop);
    if (!output)
        return output;
    return output->narrow(1, prefix, hidden.size(1));
}

std::int64_t PromptedRunner::position() const
{
    return std::max<std::int64_t>(0, m_inner->position() - m_prefix.size(0));
}

} // namespace corolla
