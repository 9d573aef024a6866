#include "model/localmodel.h"

#include <ATen/ops/tensor.h>

#include "loader/checkpoint.h"

namespace corolla {

Result<std::unique_ptr<LocalModel>> LocalModel::open(const std::string &directory,
                                                     at::ScalarType dtype,
                                                     Quantization quantization,
                                                     const Placement &placement)
{
    auto config = ModelConfig::load(directory);
    if (!config)
        return config.error();
    auto checkpoint = Checkpoint::open(directory);
    if (!checkpoint)
        return checkpoint.error();
    return fromSource(*config, **checkpoint, dtype, quantization, placement);
}

Result<std::unique_ptr<LocalModel>>
LocalModel::fromSource(const ModelConfig &config, const TensorSource &source, at::ScalarType dtype,
                       Quantization quantization, const Placement &placement)
{
    auto model = std::unique_ptr<LocalModel>(new LocalModel);
    auto head = ClientHead::load(config, source, dtype, placement);
    if (!head)
        return head.error();
    auto blocks =
        BlockSpan::load(config, source, 0, config.numLayers, dtype, quantization, placement);
    if (!blocks)
        return blocks.error();
    model->m_head = std::move(head).value();
    model->m_blocks = std::move(blocks).value();
    return model;
}

Result<at::Tensor> LocalModel::logits(const std::vector<std::int64_t> &ids,
                                      const IntermediateHook &inspect) const
{
    if (ids.empty())
        return makeError(ErrorCode::InvalidArgument, "no token ids");
    const at::Tensor idTensor = at::tensor(ids, at::kLong).view({1, std::int64_t(ids.size())});
    auto hidden = m_head->embed(idTensor);
    if (!hidden)
        return hidden.error();
    auto output = m_blocks->forward(*hidden, {std::int64_t(ids.size())}, m_blocks->begin(),
                                    m_blocks->end(), {.inspect = inspect});
    if (!output)
        return output.error();
    return toHost(m_head->logits(*output)[0]);
}

} // namespace corolla
