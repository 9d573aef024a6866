#include "loader/tensorsource.h"

#include <charconv>

namespace corolla {

int blockIndexOf(const std::string &tensorName)
{
    // Block containers of the families we read: "layers.<i>." (Llama, Mistral, Mixtral, Qwen,
    // Gemma) and "h.<i>." (BLOOM, Falcon), at the start of the name or after a dot.
    for (const std::string_view container : {"layers.", "h."}) {
        std::size_t at = 0;
        while ((at = tensorName.find(container, at)) != std::string::npos) {
            const bool atBoundary = at == 0 || tensorName[at - 1] == '.';
            const std::size_t digits = at + container.size();
            at = digits;
            if (!atBoundary)
                continue;
            int index = -1;
            const char *first = tensorName.data() + digits;
            const char *last = tensorName.data() + tensorName.size();
            const auto [end, error] = std::from_chars(first, last, index);
            if (error == std::errc() && end != first && end < last && *end == '.')
                return index;
        }
    }
    return -1;
}

Result<std::map<std::string, at::Tensor>>
TensorSource::readWhere(const std::function<bool(int block)> &wanted) const
{
    std::map<std::string, at::Tensor> tensors;
    for (const std::string &name : tensorNames()) {
        if (!wanted(blockIndexOf(name)))
            continue;
        auto tensor = read(name);
        if (!tensor)
            return tensor.error();
        tensors.emplace(name, std::move(tensor).value());
    }
    return tensors;
}

Result<std::map<std::string, at::Tensor>> TensorSource::readBlocks(int begin, int end) const
{
    return readWhere([=](int block) { return block >= begin && block < end; });
}

Result<std::map<std::string, at::Tensor>> TensorSource::readClientPart() const
{
    return readWhere([](int block) { return block < 0; });
}

std::vector<std::string> MemoryTensorSource::tensorNames() const
{
    std::vector<std::string> names;
    for (const auto &entry : m_tensors)
        names.push_back(entry.first);
    return names;
}

bool MemoryTensorSource::contains(const std::string &name) const
{
    return m_tensors.count(name) > 0;
}

Result<at::Tensor> MemoryTensorSource::read(const std::string &name) const
{
    const auto it = m_tensors.find(name);
    if (it == m_tensors.end())
        return makeError(ErrorCode::NotFound, "no tensor '" + name + "'");
    return it->second;
}

} // namespace corolla
