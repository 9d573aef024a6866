#pragma once
// Where model weights come from: a checkpoint folder, or tensors already in memory.
// Thread: any; implementations are safe to read from several threads.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"

namespace corolla {

class TensorSource {
public:
    virtual ~TensorSource() = default;

    // Every tensor name the source can provide, sorted.
    virtual std::vector<std::string> tensorNames() const = 0;
    // Whether `name` exists, without reading it.
    virtual bool contains(const std::string &name) const = 0;
    // The tensor in its stored dtype, in memory the caller owns.
    virtual Result<at::Tensor> read(const std::string &name) const = 0;

    // The tensors of transformer blocks [begin, end), keyed by their checkpoint names.
    Result<std::map<std::string, at::Tensor>> readBlocks(int begin, int end) const;
    // Everything outside the blocks: embeddings, final norm, LM head.
    Result<std::map<std::string, at::Tensor>> readClientPart() const;

private:
    // The tensors whose block index (-1 outside the blocks) `wanted` accepts.
    Result<std::map<std::string, at::Tensor>>
    readWhere(const std::function<bool(int block)> &wanted) const;
};

// The block a checkpoint tensor belongs to ("model.layers.7.mlp.up_proj.weight" -> 7,
// "transformer.h.3.ln_1.weight" -> 3), or -1 for tensors outside the blocks.
int blockIndexOf(const std::string &tensorName);

// Tensors held in memory: freshly generated test weights, or weights under test.
class MemoryTensorSource : public TensorSource {
public:
    explicit MemoryTensorSource(std::map<std::string, at::Tensor> tensors)
        : m_tensors(std::move(tensors))
    {
    }

    std::vector<std::string> tensorNames() const override;
    bool contains(const std::string &name) const override;
    Result<at::Tensor> read(const std::string &name) const override;

    const std::map<std::string, at::Tensor> &tensors() const { return m_tensors; }

private:
    std::map<std::string, at::Tensor> m_tensors;
};

} // namespace corolla
