#include "model/modelconfig.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/textfile.h"

namespace corolla {

namespace {

using Json = nlohmann::json;

// Reads config values with the aliases Hugging Face accepts and errors that name the key.
class ConfigReader {
public:
    ConfigReader(const Json &json, const std::string &origin)
        : m_json(json)
        , m_origin(origin)
    {
    }

    const Json *find(std::initializer_list<const char *> keys) const
    {
        for (const char *key : keys) {
            const auto it = m_json.find(key);
            if (it != m_json.end() && !it->is_null())
                return &*it;
        }
        return nullptr;
    }

    Result<std::int64_t> positive(std::initializer_list<const char *> keys) const
    {
        const Json *value = find(keys);
        if (!value)
            return error(std::string("missing '") + *keys.begin() + "'");
        if (!value->is_number_integer() || value->get<std::int64_t>() <= 0)
            return error(std::string("'") + *keys.begin() + "' must be a positive integer");
        return value->get<std::int64_t>();
    }

    Result<std::int64_t> positiveOr(std::initializer_list<const char *> keys,
                                    std::int64_t fallback) const
    {
        return find(keys) ? positive(keys) : Result<std::int64_t>(fallback);
    }

    Result<double> number(const char *key, double fallback) const
    {
        const Json *value = find({key});
        if (!value)
            return fallback;
        if (!value->is_number())
            return error(std::string("'") + key + "' must be a number");
        return value->get<double>();
    }

    bool flag(const char *key, bool fallback) const
    {
        const Json *value = find({key});
        return value && value->is_boolean() ? value->get<bool>() : fallback;
    }

    Error error(const std::string &what) const
    {
        return makeError(ErrorCode::Format, m_origin + ": " + what);
    }

private:
    const Json &m_json;
    const std::string &m_origin;
};

#define COROLLA_TRY_ASSIGN(target, expression)                                                     \
    do {                                                                                           \
        auto value_ = (expression);                                                                \
        if (!value_)                                                                               \
            return value_.error();                                                                 \
        target = *value_;                                                                          \
    } while (false)

Result<RopeConfig> parseRope(const ConfigReader &reader, double defaultTheta = 10000.0)
{
    RopeConfig rope;
    COROLLA_TRY_ASSIGN(rope.theta, reader.number("rope_theta", defaultTheta));
    const Json *scaling = reader.find({"rope_scaling"});
    if (!scaling)
        return rope;
    if (!scaling->is_object())
        return reader.error("'rope_scaling' must be an object or null");
    const Json *type = scaling->contains("rope_type")
                           ? &(*scaling)["rope_type"]
                           : (scaling->contains("type") ? &(*scaling)["type"] : nullptr);
    const std::string kind = type && type->is_string() ? type->get<std::string>() : "";
    ConfigReader scalingReader(*scaling, "rope_scaling");
    if (kind == "default")
        return rope;
    if (kind == "linear") {
        rope.scaling = RopeConfig::Scaling::Linear;
        COROLLA_TRY_ASSIGN(rope.factor, scalingReader.number("factor", 1.0));
    } else if (kind == "llama3") {
        rope.scaling = RopeConfig::Scaling::Llama3;
        COROLLA_TRY_ASSIGN(rope.factor, scalingReader.number("factor", 8.0));
        COROLLA_TRY_ASSIGN(rope.lowFreqFactor, scalingReader.number("low_freq_factor", 1.0));
        COROLLA_TRY_ASSIGN(rope.highFreqFactor, scalingReader.number("high_freq_factor", 4.0));
        COROLLA_TRY_ASSIGN(rope.originalMaxPositions,
                           scalingReader.positiveOr({"original_max_position_embeddings"}, 8192));
        if (!(rope.highFreqFactor > rope.lowFreqFactor))
            return reader.error("rope_scaling: high_freq_factor must exceed low_freq_factor");
    } else {
        return makeError(ErrorCode::Unsupported,
                         "rope_scaling type '" + kind
                             + "' is not supported (supported: default, linear, llama3)");
    }
    if (!(rope.factor > 0.0))
        return reader.error("rope_scaling: factor must be positive");
    return rope;
}

std::vector<std::int64_t> tokenIds(const Json *value)
{
    std::vector<std::int64_t> ids;
    if (!value)
        return ids;
    if (value->is_number_integer())
        ids.push_back(value->get<std::int64_t>());
    if (value->is_array()) {
        for (const Json &id : *value) {
            if (id.is_number_integer())
                ids.push_back(id.get<std::int64_t>());
        }
    }
    return ids;
}

// The sizes Llama-style configs name alike: hidden, MLP, layers, heads and KV heads.
Result<void> parseSizes(const ConfigReader &reader, ModelConfig &config)
{
    COROLLA_TRY_ASSIGN(config.hiddenSize, reader.positive({"hidden_size"}));
    COROLLA_TRY_ASSIGN(config.intermediateSize, reader.positive({"intermediate_size"}));
    COROLLA_TRY_ASSIGN(config.numLayers, reader.positive({"num_hidden_layers"}));
    COROLLA_TRY_ASSIGN(config.numHeads, reader.positive({"num_attention_heads"}));
    COROLLA_TRY_ASSIGN(config.numKvHeads,
                       reader.positiveOr({"num_key_value_heads"}, config.numHeads));
    return {};
}

Result<void> parseLlamaFamily(const ConfigReader &reader, ModelConfig &config)
{
    if (auto sizes = parseSizes(reader, config); !sizes)
        return sizes;
    // Qwen3's head_dim is its own hyper-parameter (128 unless the config says otherwise);
    // the others derive it from the hidden size unless the config names it.
    const bool qwen3 = config.modelType == "qwen3";
    if (!qwen3 && config.hiddenSize % config.numHeads != 0 && !reader.find({"head_dim"}))
        return reader.error("hidden_size is not a multiple of num_attention_heads");
    COROLLA_TRY_ASSIGN(
        config.headDim,
        reader.positiveOr({"head_dim"}, qwen3 ? 128 : config.hiddenSize / config.numHeads));
    if (config.headDim % 2 != 0)
        return reader.error("head_dim must be even for rotary embeddings");
    COROLLA_TRY_ASSIGN(config.normEps, reader.number("rms_norm_eps", 1e-6));
    COROLLA_TRY_ASSIGN(config.maxPositions, reader.positiveOr({"max_position_embeddings"}, 4096));
    COROLLA_TRY_ASSIGN(config.rope,
                       parseRope(reader, config.modelType == "mixtral" ? 1000000.0 : 10000.0));

    if (const Json *activation = reader.find({"hidden_act"});
        activation && (!activation->is_string() || activation->get<std::string>() != "silu"))
        return makeError(ErrorCode::Unsupported, "hidden_act other than 'silu' is not supported");

    if (config.modelType == "qwen2") {
        config.qkvBias = true;
    } else {
        config.qkvBias = config.outputBias = reader.flag("attention_bias", false);
        config.mlpBias = reader.flag("mlp_bias", false);
    }
    config.qkNorm = qwen3;
    config.tieWordEmbeddings = reader.flag("tie_word_embeddings", false);

    config.slidingLayers.assign(std::size_t(config.numLayers), false);
    // Qwen2 and Qwen3 ignore sliding_window unless use_sliding_window is set.
    const bool qwen = config.modelType == "qwen2" || qwen3;
    const Json *window = !qwen || reader.flag("use_sliding_window", false)
                             ? reader.find({"sliding_window"})
                             : nullptr;
    const Json *layerTypes = reader.find({"layer_types"});
    if (layerTypes && layerTypes->is_array()) {
        // Newer configs spell out each layer's attention; it overrides the older flags.
        if (std::int64_t(layerTypes->size()) != config.numLayers)
            return reader.error("'layer_types' must list one entry per layer");
        if (!window || !window->is_number_integer() || window->get<std::int64_t>() <= 0)
            return {};
        config.slidingWindow = window->get<std::int64_t>();
        for (std::size_t layer = 0; layer < layerTypes->size(); ++layer)
            config.slidingLayers[layer] = (*layerTypes)[layer] == "sliding_attention";
        return {};
    }
    const bool windowed = window && window->is_number_integer() && window->get<std::int64_t>() > 0;
    if ((config.modelType == "mistral" || config.modelType == "mixtral") && windowed) {
        config.slidingWindow = window->get<std::int64_t>();
        config.slidingLayers.assign(std::size_t(config.numLayers), true);
    } else if (qwen && windowed) {
        // Qwen2 and Qwen3 apply the window to the layers from max_window_layers on.
        config.slidingWindow = window->get<std::int64_t>();
        const Json *first = reader.find({"max_window_layers"});
        const std::int64_t firstWindowed =
            first && first->is_number_integer()
                ? std::max<std::int64_t>(0, first->get<std::int64_t>())
                : 0;
        for (std::int64_t layer = firstWindowed; layer < config.numLayers; ++layer)
            config.slidingLayers[std::size_t(layer)] = true;
    }
    return {};
}

// Falcon, with transformers' FalconConfig defaults and the keys of the older RefinedWeb
// checkpoints (RefinedWeb is the new decoder architecture with n_head_kv).
Result<void> parseFalcon(const ConfigReader &reader, ModelConfig &config)
{
    COROLLA_TRY_ASSIGN(config.hiddenSize, reader.positive({"hidden_size", "n_embed"}));
    COROLLA_TRY_ASSIGN(config.numLayers, reader.positive({"num_hidden_layers", "n_layer"}));
    COROLLA_TRY_ASSIGN(config.numHeads, reader.positive({"num_attention_heads", "n_head"}));
    if (config.hiddenSize % config.numHeads != 0)
        return reader.error("hidden_size is not a multiple of num_attention_heads");
    config.headDim = config.hiddenSize / config.numHeads;
    COROLLA_TRY_ASSIGN(config.intermediateSize,
                       reader.positiveOr({"ffn_hidden_size"}, 4 * config.hiddenSize));
    COROLLA_TRY_ASSIGN(config.normEps, reader.number("layer_norm_epsilon", 1e-5));
    COROLLA_TRY_ASSIGN(config.maxPositions, reader.positiveOr({"max_position_embeddings"}, 2048));

    FalconLayout &layout = config.falcon;
    layout.newDecoder =
        config.modelType == "RefinedWeb" || reader.flag("new_decoder_architecture", false);
    layout.multiQuery = !layout.newDecoder && reader.flag("multi_query", true);
    layout.alibi = reader.flag("alibi", false);
    layout.parallel = layout.newDecoder || reader.flag("parallel_attn", true);
    if (layout.newDecoder) {
        COROLLA_TRY_ASSIGN(config.numKvHeads,
                           reader.positiveOr({"num_kv_heads", "n_head_kv"}, config.numHeads));
        std::int64_t norms = 2;
        COROLLA_TRY_ASSIGN(norms, reader.positiveOr({"num_ln_in_parallel_attn"}, 2));
        if (norms > 2)
            return reader.error("'num_ln_in_parallel_attn' must be 1 or 2");
        layout.twoNorms = norms == 2;
    } else {
        config.numKvHeads = layout.multiQuery ? 1 : config.numHeads;
    }
    if (!layout.alibi) {
        COROLLA_TRY_ASSIGN(config.rope, parseRope(reader));
        if (config.headDim % 2 != 0)
            return reader.error("the head size must be even for rotary embeddings");
    }
    if (const Json *activation = reader.find({"activation"});
        activation && (!activation->is_string() || activation->get<std::string>() != "gelu"))
        return makeError(ErrorCode::Unsupported, "activation other than 'gelu' is not supported");
    config.qkvBias = config.outputBias = config.mlpBias = reader.flag("bias", false);
    config.tieWordEmbeddings = reader.flag("tie_word_embeddings", true);
    config.slidingLayers.assign(std::size_t(config.numLayers), false);
    return {};
}

// Mixtral: Mistral's attention and window, and a mixture of experts.
Result<void> parseMixtral(const ConfigReader &reader, ModelConfig &config)
{
    if (auto llama = parseLlamaFamily(reader, config); !llama)
        return llama;
    COROLLA_TRY_ASSIGN(config.numExperts, reader.positiveOr({"num_local_experts"}, 8));
    COROLLA_TRY_ASSIGN(config.expertsPerToken, reader.positiveOr({"num_experts_per_tok"}, 2));
    if (config.expertsPerToken > config.numExperts)
        return reader.error("num_experts_per_tok exceeds num_local_experts");
    return {};
}

// Gemma 2 (gemma2) and Gemma 3's text model (gemma3_text), with the defaults of their
// transformers configurations where a key is absent.
Result<void> parseGemma(const ConfigReader &reader, const Json &json, ModelConfig &config)
{
    const bool gemma3 = config.modelType == "gemma3_text";
    if (auto sizes = parseSizes(reader, config); !sizes)
        return sizes;
    COROLLA_TRY_ASSIGN(config.headDim, reader.positiveOr({"head_dim"}, 256));
    if (config.headDim % 2 != 0)
        return reader.error("head_dim must be even for rotary embeddings");
    COROLLA_TRY_ASSIGN(config.normEps, reader.number("rms_norm_eps", 1e-6));
    COROLLA_TRY_ASSIGN(config.maxPositions,
                       reader.positiveOr({"max_position_embeddings"}, gemma3 ? 131072 : 8192));
    COROLLA_TRY_ASSIGN(config.rope, parseRope(reader, gemma3 ? 1000000.0 : 10000.0));
    if (gemma3) {
        RopeConfig local;
        COROLLA_TRY_ASSIGN(local.theta, reader.number("rope_local_base_freq", 10000.0));
        if (!(local.theta > 0.0))
            return reader.error("'rope_local_base_freq' must be positive");
        config.localRope = local;
    }
    if (!(config.rope.theta > 0.0))
        return reader.error("'rope_theta' must be positive");

    const Json *activation = reader.find({"hidden_activation", "hidden_act"});
    if (activation
        && (!activation->is_string() || activation->get<std::string>() != "gelu_pytorch_tanh"))
        return makeError(ErrorCode::Unsupported,
                         "hidden_activation other than 'gelu_pytorch_tanh' is not supported");

    double queryScalar = 256;
    COROLLA_TRY_ASSIGN(queryScalar, reader.number("query_pre_attn_scalar", 256));
    if (!(queryScalar > 0.0))
        return reader.error("'query_pre_attn_scalar' must be positive");
    config.attentionScale = 1.0 / std::sqrt(queryScalar);
    // A cap written as null switches it off; an absent one takes the model's default.
    const auto softcap = [&](const char *key, double fallback) -> Result<double> {
        const auto it = json.find(key);
        if (it == json.end())
            return fallback;
        if (it->is_null())
            return 0.0;
        if (!it->is_number() || it->get<double>() <= 0.0)
            return reader.error(std::string("'") + key + "' must be a positive number or null");
        return it->get<double>();
    };
    COROLLA_TRY_ASSIGN(config.attentionSoftcap,
                       softcap("attn_logit_softcapping", gemma3 ? 0.0 : 50.0));
    COROLLA_TRY_ASSIGN(config.finalSoftcap,
                       softcap("final_logit_softcapping", gemma3 ? 0.0 : 30.0));

    config.qkvBias = config.outputBias = reader.flag("attention_bias", false);
    config.qkNorm = gemma3;
    config.tieWordEmbeddings = reader.flag("tie_word_embeddings", true);

    // Local (sliding-window) and global layers alternate: Gemma 2 starts with a local one,
    // Gemma 3 makes every sliding_window_pattern-th layer global; layer_types overrides both.
    COROLLA_TRY_ASSIGN(config.slidingWindow, reader.positiveOr({"sliding_window"}, 4096));
    std::int64_t pattern = 2;
    if (gemma3) {
        COROLLA_TRY_ASSIGN(pattern, reader.positiveOr({"sliding_window_pattern"}, 6));
    }
    config.slidingLayers.assign(std::size_t(config.numLayers), false);
    const Json *layerTypes = reader.find({"layer_types"});
    if (layerTypes && layerTypes->is_array()) {
        if (std::int64_t(layerTypes->size()) != config.numLayers)
            return reader.error("'layer_types' must list one entry per layer");
        for (std::size_t layer = 0; layer < layerTypes->size(); ++layer)
            config.slidingLayers[layer] = (*layerTypes)[layer] == "sliding_attention";
        return {};
    }
    for (std::int64_t layer = 0; layer < config.numLayers; ++layer)
        config.slidingLayers[std::size_t(layer)] =
            gemma3 ? (layer + 1) % pattern != 0 : layer % 2 == 0;
    return {};
}

Result<void> parseBloom(const ConfigReader &reader, ModelConfig &config)
{
    COROLLA_TRY_ASSIGN(config.hiddenSize, reader.positive({"hidden_size", "n_embed"}));
    COROLLA_TRY_ASSIGN(config.numLayers, reader.positive({"n_layer", "num_hidden_layers"}));
    COROLLA_TRY_ASSIGN(config.numHeads, reader.positive({"n_head", "num_attention_heads"}));
    if (config.hiddenSize % config.numHeads != 0)
        return reader.error("hidden_size is not a multiple of n_head");
    config.numKvHeads = config.numHeads;
    config.headDim = config.hiddenSize / config.numHeads;
    config.intermediateSize = 4 * config.hiddenSize;
    COROLLA_TRY_ASSIGN(config.normEps, reader.number("layer_norm_epsilon", 1e-5));
    config.maxPositions = 1 << 20; // ALiBi has no position table
    config.residualFromNormedInput = reader.flag("apply_residual_connection_post_layernorm", false);
    config.tieWordEmbeddings = reader.flag("tie_word_embeddings", true);
    config.slidingLayers.assign(std::size_t(config.numLayers), false);
    return {};
}

} // namespace

Result<ModelConfig> ModelConfig::parse(const std::string &jsonText, const std::string &origin)
{
    const Json json = Json::parse(jsonText, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return makeError(ErrorCode::Format, origin + ": not a JSON object");
    const ConfigReader reader(json, origin);

    ModelConfig config;
    const Json *type = reader.find({"model_type"});
    if (!type || !type->is_string())
        return reader.error("missing 'model_type'");
    config.modelType = type->get<std::string>();

    Result<void> parsed;
    if (config.modelType == "llama" || config.modelType == "mistral" || config.modelType == "qwen2"
        || config.modelType == "qwen3") {
        config.architecture = Architecture::Llama;
        parsed = parseLlamaFamily(reader, config);
    } else if (config.modelType == "mixtral") {
        config.architecture = Architecture::Mixtral;
        parsed = parseMixtral(reader, config);
    } else if (config.modelType == "falcon" || config.modelType == "RefinedWeb"
               || config.modelType == "RefinedWebModel") {
        config.architecture = Architecture::Falcon;
        parsed = parseFalcon(reader, config);
    } else if (config.modelType == "bloom") {
        config.architecture = Architecture::Bloom;
        parsed = parseBloom(reader, config);
    } else if (config.modelType == "gemma2" || config.modelType == "gemma3_text") {
        config.architecture = Architecture::Gemma;
        parsed = parseGemma(reader, json, config);
    } else if (config.modelType == "gemma3") {
        return makeError(ErrorCode::Unsupported,
                         origin
                             + ": model_type 'gemma3' is Gemma 3 with its vision tower, which is "
                               "not supported; its text model (gemma3_text, as in "
                               "google/gemma-3-1b-it) is");
    } else {
        return makeError(
            ErrorCode::Unsupported,
            origin + ": model_type '" + config.modelType
                + "' is not supported (supported: llama, mistral, mixtral, qwen2, qwen3, "
                  "gemma2, gemma3_text, falcon, bloom)");
    }
    if (!parsed)
        return parsed.error();
    if (config.numHeads % config.numKvHeads != 0)
        return reader.error("num_attention_heads must be a multiple of num_key_value_heads");
    COROLLA_TRY_ASSIGN(config.vocabSize, reader.positive({"vocab_size"}));

    if (const Json *bos = reader.find({"bos_token_id"}); bos && bos->is_number_integer())
        config.bosTokenId = bos->get<std::int64_t>();
    config.eosTokenIds = tokenIds(reader.find({"eos_token_id"}));
    return config;
}

Result<ModelConfig> ModelConfig::load(const std::string &directory)
{
    const std::string path = (std::filesystem::path(directory) / "config.json").string();
    auto text = readTextFile(path);
    if (!text)
        return text.error();
    return parse(*text, path);
}

bool ModelConfig::usesSlidingWindow(std::int64_t layer) const
{
    return slidingWindow > 0 && layer >= 0 && layer < std::int64_t(slidingLayers.size())
           && slidingLayers[std::size_t(layer)];
}

} // namespace corolla
