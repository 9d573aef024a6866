#include "testmodel/testmodel.h"

namespace corolla {

RandomTensorSource::RandomTensorSource(const ModelConfig &config, std::uint64_t seed,
                                       at::ScalarType storage)
    : m_seed(seed)
    , m_storage(storage)
{
    for (TestTensor &tensor : testTensors(config))
        m_tensors.emplace(tensor.name, std::move(tensor));
}

std::vector<std::string> RandomTensorSource::tensorNames() const
{
    std::vector<std::string> names;
    for (const auto &[name, tensor] : m_tensors)
        names.push_back(name);
    return names;
}

bool RandomTensorSource::contains(const std::string &name) const
{
    return m_tensors.count(name) > 0;
}

Result<at::Tensor> RandomTensorSource::read(const std::string &name) const
{
    const auto found = m_tensors.find(name);
    if (found == m_tensors.end())
        return makeError(ErrorCode::NotFound, "random test weights have no tensor " + name);
    return makeTestTensor(found->second, m_seed, m_storage);
}

} // namespace corolla
