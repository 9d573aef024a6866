#pragma once
// The small tensors prompt tuning trains while the model stays frozen: `prefix` prompt
// embeddings put before every sequence's token embeddings (ptune) and, for deep_ptune, one
// prompt per block added to the prefix positions before that block. Saved as
// prompts.safetensors with the model id, method and prefix length in its metadata.
// Thread: plain value type (the tensors are shared when copied; clone() to own them).

#include <cstdint>
#include <string>
#include <string_view>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "model/blockspan.h"
#include "model/modelconfig.h"

namespace corolla {

class ClientHead;

enum class PromptMethod { PTune, DeepPTune };

std::string_view promptMethodName(PromptMethod method); // "ptune", "deep_ptune"
Result<PromptMethod> promptMethodFromName(std::string_view name);

struct TrainablePrompts {
    PromptMethod method = PromptMethod::PTune;
    at::Tensor prefix; // [P, hidden] fp32: the hidden states of P virtual tokens
    at::Tensor deep;   // [numBlocks, 1, P, hidden] fp32, DeepPTune only (DeepPrompts of all blocks)
    std::string modelId; // the model they were trained for, as load() read it

    std::int64_t prefixLength() const { return prefix.defined() ? prefix.size(0) : 0; }

    // Fresh prompts: the prefix starts as the embeddings of `prefixLength` tokens drawn with
    // `seed` (where the model's own inputs live), the deep prompts at zero, so that training
    // starts from a plain prompt of real tokens.
    static Result<TrainablePrompts> initial(const ModelConfig &config, const ClientHead &head,
                                            PromptMethod method, std::int64_t prefixLength,
                                            std::uint64_t seed);

    // Writes them to `path` (safetensors; tensors "prompt_embeddings" [P, hidden] and, for
    // deep_ptune, "intermediate_prompt_embeddings" [numBlocks, P, hidden]).
    Result<void> save(const std::string &path, const std::string &modelId) const;
    // Reads prompts saved for a model of `config` (and, when `modelId` is given, saved for
    // that model); an error names what does not fit.
    static Result<TrainablePrompts> load(const std::string &path, const ModelConfig &config,
                                         const std::string &modelId = {});
};

} // namespace corolla
