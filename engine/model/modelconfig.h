#pragma once
// The hyper-parameters of a checkpoint, read from its Hugging Face config.json.
// Thread: any; plain value type.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace corolla {

// Block layouts we implement. Llama covers Llama 2/3, Mistral, Qwen2 and Qwen3 (they differ
// only in biases, rope parameters, sliding windows and Qwen3's q/k norms); Bloom is BLOOM with
// ALiBi; Gemma is Gemma 2 and Gemma 3's text model (RMSNorm scaled by 1 + weight, norms after
// attention and MLP too, tanh-GELU, scaled embeddings, soft-capping, local and global layers);
// Mixtral is Mistral's attention with a sparse mixture of SwiGLU experts; Falcon is Falcon's
// three layouts (FalconLayout).
enum class Architecture { Llama, Bloom, Gemma, Mixtral, Falcon };

// How a Falcon checkpoint arranges its block. The new decoder architecture (Falcon-40B, -180B,
// -11B): grouped KV heads, attention and MLP in parallel on one or two LayerNorms (ln_attn,
// ln_mlp), the fused QKV grouped per KV head as (its query heads, k, v). The older layouts:
// multi-query (Falcon-7B: one KV head, the fused QKV as all query heads, then k, then v) or
// per-head (q, k, v) with as many KV heads as query heads; attention and MLP in parallel on
// input_layernorm, or in sequence with post_attention_layernorm; rotary, or ALiBi.
struct FalconLayout {
    bool newDecoder = false;
    bool multiQuery = true;
    bool parallel = true;  // attention and MLP read the same input and add to one residual
    bool twoNorms = false; // new decoder: ln_attn and ln_mlp rather than one input_layernorm
    bool alibi = false;    // ALiBi instead of rotary
};

struct RopeConfig {
    enum class Scaling { None, Linear, Llama3 };
    double theta = 10000.0;
    Scaling scaling = Scaling::None;
    double factor = 1.0;
    double lowFreqFactor = 1.0;               // llama3 only
    double highFreqFactor = 4.0;              // llama3 only
    std::int64_t originalMaxPositions = 8192; // llama3 only
};

struct ModelConfig {
    std::string modelType; // "llama", "mistral", "mixtral", "qwen2", "qwen3", "gemma2",
                           // "gemma3_text", "falcon" (also "RefinedWeb", "RefinedWebModel"),
                           // "bloom"
    Architecture architecture = Architecture::Llama;

    std::int64_t hiddenSize = 0;
    std::int64_t intermediateSize = 0; // BLOOM: 4 * hiddenSize
    std::int64_t numLayers = 0;
    std::int64_t numHeads = 0;
    std::int64_t numKvHeads = 0; // == numHeads without grouped-query attention
    std::int64_t headDim = 0;
    std::int64_t vocabSize = 0;
    std::int64_t maxPositions = 0;
    double normEps = 1e-5;

    RopeConfig rope;                      // Llama and Gemma
    std::optional<RopeConfig> localRope;  // Gemma 3: the rope of sliding-window layers
    bool qkvBias = false;                 // Qwen2, Llama with attention_bias, Falcon with bias
    bool outputBias = false;              // Llama with attention_bias
    bool mlpBias = false;                 // Llama with mlp_bias
    bool qkNorm = false;                  // Qwen3: per-head RMSNorm of q and k before rotary
    bool tieWordEmbeddings = false;       // LM head shares the embedding matrix
    std::int64_t slidingWindow = 0;       // 0: full causal attention
    std::vector<bool> slidingLayers;      // per layer, whether slidingWindow applies
    bool residualFromNormedInput = false; // BLOOM's apply_residual_connection_post_layernorm
    double attentionScale = 0;            // scores' factor; 0: 1 / sqrt(headDim)
    double attentionSoftcap = 0;          // Gemma 2: scores -> cap * tanh(scores / cap); 0: none
    double finalSoftcap = 0;              // Gemma 2: the same on the logits; 0: none
    std::int64_t numExperts = 0;          // Mixtral: experts per block (num_local_experts)
    std::int64_t expertsPerToken = 0;     // Mixtral: experts each token is routed to
    FalconLayout falcon;                  // Falcon only

    std::optional<std::int64_t> bosTokenId;
    std::vector<std::int64_t> eosTokenIds;

    // Parses config.json text; `origin` names the file in error messages.
    static Result<ModelConfig> parse(const std::string &jsonText, const std::string &origin);
    // Reads `<directory>/config.json`.
    static Result<ModelConfig> load(const std::string &directory);

    bool usesSlidingWindow(std::int64_t layer) const;
};

} // namespace corolla
