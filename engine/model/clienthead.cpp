#include "model/clienthead.h"

#include <cmath>

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <ATen/ops/embedding.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/tanh.h>

#include "loader/checkpoint.h"
#include "model/block.h"
#include "model/ops.h"

namespace corolla {

Result<std::unique_ptr<ClientHead>> ClientHead::open(const std::string &directory,
                                                     const ModelConfig &config,
                                                     at::ScalarType dtype,
                                                     const Placement &placement)
{
    auto checkpoint = Checkpoint::open(directory);
    if (!checkpoint)
        return checkpoint.error();
    return load(config, **checkpoint, dtype, placement);
}

Result<std::unique_ptr<ClientHead>> ClientHead::load(const ModelConfig &config,
                                                     const TensorSource &source,
                                                     at::ScalarType dtype,
                                                     const Placement &placement)
{
    // Not InferenceMode: training differentiates through the head (its weights stay frozen).
    at::NoGradGuard noGrad;
    auto head = std::unique_ptr<ClientHead>(new ClientHead);
    head->m_config = config;
    head->m_placement = placement;
    const WeightReader reader(source, dtype, Quantization::None, placement.device);
    const std::int64_t h = config.hiddenSize, vocab = config.vocabSize;

    struct Slot {
        at::Tensor *target;
        std::string name;
        std::vector<std::int64_t> shape;
    };
    std::vector<Slot> slots;
    switch (config.architecture) {
    case Architecture::Llama:
    case Architecture::Gemma:
    case Architecture::Mixtral:
        slots = {{&head->m_embeddings, "model.embed_tokens.weight", {vocab, h}},
                 {&head->m_finalNorm, "model.norm.weight", {h}}};
        break;
    case Architecture::Falcon:
        slots = {{&head->m_embeddings, "transformer.word_embeddings.weight", {vocab, h}},
                 {&head->m_finalNorm, "transformer.ln_f.weight", {h}},
                 {&head->m_finalNormBias, "transformer.ln_f.bias", {h}}};
        break;
    case Architecture::Bloom: {
        const std::string prefix =
            reader.pick({"word_embeddings.weight", "transformer.word_embeddings.weight"})
                        .rfind("transformer.", 0)
                    == 0
                ? "transformer."
                : "";
        slots = {{&head->m_embeddings, prefix + "word_embeddings.weight", {vocab, h}},
                 {&head->m_embeddingNorm, prefix + "word_embeddings_layernorm.weight", {h}},
                 {&head->m_embeddingNormBias, prefix + "word_embeddings_layernorm.bias", {h}},
                 {&head->m_finalNorm, prefix + "ln_f.weight", {h}},
                 {&head->m_finalNormBias, prefix + "ln_f.bias", {h}}};
        break;
    }
    }
    for (const Slot &slot : slots) {
        auto tensor = reader.require(slot.name, slot.shape);
        if (!tensor)
            return tensor.error();
        *slot.target = std::move(tensor).value();
    }
    if (config.architecture == Architecture::Gemma) {
        head->m_finalNorm = ops::gemmaNormScale(head->m_finalNorm);
        // Gemma multiplies the embeddings by sqrt(hidden) rounded to the compute dtype.
        head->m_embeddingScale =
            toDevice(at::scalar_tensor(std::sqrt(double(h)), dtype), placement.device);
    }
    // An untied model must ship its head; a tied one may still store a copy, which we use.
    auto lmHead = reader.optional("lm_head.weight", {vocab, h});
    if (!lmHead)
        return lmHead.error();
    if (lmHead->defined())
        head->m_lmHead = reader.held(*lmHead);
    else if (config.tieWordEmbeddings)
        head->m_lmHead = head->m_embeddings = reader.held(head->m_embeddings);
    else
        return makeError(ErrorCode::NotFound,
                         "the checkpoint has no 'lm_head.weight' and config.json does not tie "
                         "the word embeddings");
    return head;
}

Result<at::Tensor> ClientHead::embed(const at::Tensor &ids) const
{
    if (ids.dim() != 2 || ids.scalar_type() != at::kLong)
        return makeError(ErrorCode::InvalidArgument,
                         "token ids must be an int64 [batch, tokens] tensor");
    if (ids.numel() > 0) {
        const std::int64_t low = ids.min().item<std::int64_t>();
        const std::int64_t high = ids.max().item<std::int64_t>();
        if (low < 0 || high >= m_config.vocabSize)
            return makeError(ErrorCode::InvalidArgument,
                             "token id " + std::to_string(low < 0 ? low : high)
                                 + " is outside the vocabulary [0, "
                                 + std::to_string(m_config.vocabSize) + ")");
    }
    c10::InferenceMode inference;
    at::Tensor hidden =
        at::embedding(m_embeddings, toDevice(ids, m_placement.device)); // [batch, T, hidden]
    if (m_embeddingScale.defined())
        hidden = hidden * m_embeddingScale;
    if (m_embeddingNorm.defined())
        hidden = at::layer_norm(hidden, {m_config.hiddenSize}, m_embeddingNorm, m_embeddingNormBias,
                                m_config.normEps);
    return hidden;
}

at::Tensor ClientHead::logits(const at::Tensor &hidden) const
{
    c10::InferenceMode inference(!hidden.requires_grad());
    const at::Tensor x = toDevice(hidden, m_placement.device).to(m_embeddings.scalar_type());
    const ComputeBackend backend = m_placement.effectiveBackend();
    at::Tensor normed;
    switch (m_config.architecture) {
    case Architecture::Llama:
    case Architecture::Mixtral:
        normed = ops::rmsNorm(x, m_finalNorm, m_config.normEps, backend);
        break;
    case Architecture::Gemma:
        normed = ops::scaledRmsNorm(x, m_finalNorm, m_config.normEps, backend);
        break;
    case Architecture::Bloom:
    case Architecture::Falcon:
        normed = at::layer_norm(x, {m_config.hiddenSize}, m_finalNorm, m_finalNormBias,
                                m_config.normEps);
        break;
    }
    const at::Tensor logits = ops::linear(normed, m_lmHead, {}, backend).to(at::kFloat);
    const double cap = m_config.finalSoftcap;
    return cap > 0 ? at::tanh(logits / cap) * cap : logits;
}

} // namespace corolla
