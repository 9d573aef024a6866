// The config.json side of the test models: the named shapes and each family's defaults.

#include "testmodel/testmodel.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace corolla {

using Json = nlohmann::json;

namespace {

struct Shape {
    const char *name;
    const char *family; // "" fits every family
    Json config;        // the keys that differ from the family's defaults
};

// Real shapes carry the hyper-parameters of the public checkpoints they are named after.
const std::vector<Shape> &shapes()
{
    static const std::vector<Shape> table = {
        {"tiny", "", Json::object()},
        {"demo",
         "",
         {{"hidden_size", 256},
          {"intermediate_size", 688},
          {"num_hidden_layers", 8},
          {"num_attention_heads", 8},
          {"num_key_value_heads", 4}}},
        {"tinyllama-1.1b",
         "llama",
         {{"hidden_size", 2048},
          {"intermediate_size", 5632},
          {"num_hidden_layers", 22},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 4},
          {"vocab_size", 32000},
          {"rope_theta", 10000.0},
          {"rms_norm_eps", 1e-5},
          {"max_position_embeddings", 2048},
          {"rope_scaling", nullptr}}},
        {"llama-3.2-1b",
         "llama",
         {{"hidden_size", 2048},
          {"intermediate_size", 8192},
          {"num_hidden_layers", 16},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 8},
          {"vocab_size", 128256},
          {"rope_theta", 500000.0},
          {"rms_norm_eps", 1e-5},
          {"max_position_embeddings", 131072},
          {"tie_word_embeddings", true},
          {"head_dim", 64},
          {"rope_scaling",
           {{"rope_type", "llama3"},
            {"factor", 32.0},
            {"low_freq_factor", 1.0},
            {"high_freq_factor", 4.0},
            {"original_max_position_embeddings", 8192}}}}},
        {"llama-3-8b",
         "llama",
         {{"hidden_size", 4096},
          {"intermediate_size", 14336},
          {"num_hidden_layers", 32},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 8},
          {"vocab_size", 128256},
          {"rope_theta", 500000.0},
          {"rms_norm_eps", 1e-5},
          {"max_position_embeddings", 8192},
          {"rope_scaling", nullptr}}},
        {"qwen2-0.5b",
         "qwen2",
         {{"hidden_size", 896},
          {"intermediate_size", 4864},
          {"num_hidden_layers", 24},
          {"num_attention_heads", 14},
          {"num_key_value_heads", 2},
          {"vocab_size", 151936},
          {"rope_theta", 1000000.0},
          {"rms_norm_eps", 1e-6},
          {"max_position_embeddings", 32768},
          {"tie_word_embeddings", true}}},
        {"qwen3-8b",
         "qwen3",
         {{"hidden_size", 4096},
          {"intermediate_size", 12288},
          {"num_hidden_layers", 36},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 8},
          {"head_dim", 128},
          {"vocab_size", 151936},
          {"rope_theta", 1000000.0},
          {"rms_norm_eps", 1e-6},
          {"max_position_embeddings", 40960},
          {"attention_bias", false},
          {"use_sliding_window", false},
          {"sliding_window", nullptr},
          {"layer_types", nullptr},
          {"tie_word_embeddings", false}}},
        {"mixtral-8x7b",
         "mixtral",
         {{"hidden_size", 4096},
          {"intermediate_size", 14336},
          {"num_hidden_layers", 32},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 8},
          {"num_local_experts", 8},
          {"num_experts_per_tok", 2},
          {"vocab_size", 32000},
          {"rope_theta", 1000000.0},
          {"rms_norm_eps", 1e-5},
          {"max_position_embeddings", 32768},
          {"sliding_window", nullptr},
          {"tie_word_embeddings", false}}},
        {"falcon-7b",
         "falcon-mqa",
         {{"hidden_size", 4544},
          {"ffn_hidden_size", 18176},
          {"num_hidden_layers", 32},
          {"num_attention_heads", 71},
          {"vocab_size", 65024},
          {"layer_norm_epsilon", 1e-5},
          {"max_position_embeddings", 2048},
          {"bos_token_id", 11},
          {"eos_token_id", 11}}},
        {"gemma-2-9b",
         "gemma2",
         {{"hidden_size", 3584},
          {"intermediate_size", 14336},
          {"num_hidden_layers", 42},
          {"num_attention_heads", 16},
          {"num_key_value_heads", 8},
          {"head_dim", 256},
          {"vocab_size", 256000},
          {"rope_theta", 10000.0},
          {"rms_norm_eps", 1e-6},
          {"max_position_embeddings", 8192},
          {"query_pre_attn_scalar", 256},
          {"sliding_window", 4096},
          {"attn_logit_softcapping", 50.0},
          {"final_logit_softcapping", 30.0},
          {"tie_word_embeddings", true}}},
        {"gemma-3-12b",
         "gemma3",
         {{"hidden_size", 3840},
          {"intermediate_size", 15360},
          {"num_hidden_layers", 48},
          {"num_attention_heads", 16},
          {"num_key_value_heads", 8},
          {"head_dim", 256},
          {"vocab_size", 262208},
          {"rope_theta", 1000000.0},
          {"rope_local_base_freq", 10000.0},
          {"rope_scaling", {{"rope_type", "linear"}, {"factor", 8.0}}},
          {"rms_norm_eps", 1e-6},
          {"max_position_embeddings", 131072},
          {"query_pre_attn_scalar", 256},
          {"sliding_window", 1024},
          {"sliding_window_pattern", 6},
          {"tie_word_embeddings", true}}},
        {"bloom-560m",
         "bloom",
         {{"hidden_size", 1024}, {"n_layer", 24}, {"n_head", 16}, {"vocab_size", 250880}}},
    };
    return table;
}

// Small models keep a family's distinguishing features switched on, so tests exercise them:
// llama3 rope scaling with a short original context, Mistral's sliding window, Qwen2's
// biases and tied embeddings, Qwen3's q/k norms with a head_dim of its own, attention biases
// and a window on its last two layers, BLOOM with a head count that is not a power of two. Their
// projections' input widths are multiples of 64, so that they pack as nf4 too.
Json familyDefaults(const std::string &family)
{
    if (family.rfind("falcon", 0) == 0) {
        // falcon: the new decoder architecture (four query heads on two KV heads, ln_attn and
        // ln_mlp, an untied head); falcon-1ln: the same on one norm; falcon-mqa: Falcon-7B's
        // multi-query parallel layout; falcon-alibi: per-head QKV, ALiBi over six heads (not
        // a power of two), biases, attention and MLP in sequence.
        Json config = {{"model_type", "falcon"}, {"architectures", {"FalconForCausalLM"}},
                       {"hidden_size", 64},      {"ffn_hidden_size", 192},
                       {"num_hidden_layers", 4}, {"num_attention_heads", 4},
                       {"vocab_size", 512},      {"layer_norm_epsilon", 1e-5},
                       {"rope_theta", 10000.0},  {"max_position_embeddings", 256},
                       {"activation", "gelu"},   {"bos_token_id", 1},
                       {"eos_token_id", 2},      {"bias", false},
                       {"alibi", false},         {"tie_word_embeddings", true}};
        if (family == "falcon" || family == "falcon-1ln") {
            config["new_decoder_architecture"] = true;
            config["num_kv_heads"] = 2;
            config["num_ln_in_parallel_attn"] = family == "falcon" ? 2 : 1;
            config["tie_word_embeddings"] = family != "falcon";
        } else if (family == "falcon-mqa") {
            config["multi_query"] = true;
            config["parallel_attn"] = true;
        } else {
            config["hidden_size"] = 192;
            config["ffn_hidden_size"] = 384;
            config["num_attention_heads"] = 6;
            config["multi_query"] = false;
            config["parallel_attn"] = false;
            config["alibi"] = true;
            config["bias"] = true;
        }
        return config;
    }
    if (family == "bloom") {
        return {{"model_type", "bloom"},
                {"architectures", {"BloomForCausalLM"}},
                {"hidden_size", 192},
                {"n_layer", 4},
                {"n_head", 6},
                {"vocab_size", 512},
                {"layer_norm_epsilon", 1e-5},
                {"apply_residual_connection_post_layernorm", false},
                {"bos_token_id", 1},
                {"eos_token_id", 2},
                {"tie_word_embeddings", true}};
    }
    Json config = {
        {"model_type", family},        {"hidden_size", 64},        {"intermediate_size", 192},
        {"num_hidden_layers", 4},      {"num_attention_heads", 4}, {"num_key_value_heads", 2},
        {"vocab_size", 512},           {"rms_norm_eps", 1e-6},     {"max_position_embeddings", 256},
        {"hidden_act", "silu"},        {"bos_token_id", 1},        {"eos_token_id", 2},
        {"tie_word_embeddings", false}};
    if (family == "llama") {
        config["architectures"] = {"LlamaForCausalLM"};
        config["rope_theta"] = 500000.0;
        config["rope_scaling"] = {{"rope_type", "llama3"},
                                  {"factor", 8.0},
                                  {"low_freq_factor", 1.0},
                                  {"high_freq_factor", 4.0},
                                  {"original_max_position_embeddings", 64}};
    } else if (family == "mistral") {
        config["architectures"] = {"MistralForCausalLM"};
        config["rope_theta"] = 10000.0;
        config["sliding_window"] = 8;
    } else if (family == "mixtral") {
        // Four experts, two per token, narrower than a dense MLP; Mistral's window.
        config["architectures"] = {"MixtralForCausalLM"};
        config["rope_theta"] = 1000000.0;
        config["sliding_window"] = 8;
        config["intermediate_size"] = 128;
        config["num_local_experts"] = 4;
        config["num_experts_per_tok"] = 2;
    } else if (family == "gemma2" || family == "gemma3") {
        // Gemma 2: soft-capped scores and logits, tied head, local layers 0 and 2. Gemma 3:
        // q/k norms, an untied head, a rope of its own (and linear scaling) for the global
        // layer 2 while layers 0, 1 and 3 are local. Both: head_dim and
        // query_pre_attn_scalar unlike hidden / heads, windows shorter than the tests' sequences.
        config.erase("hidden_act");
        config["hidden_activation"] = "gelu_pytorch_tanh";
        config["head_dim"] = 32;
        config["sliding_window"] = 8;
        if (family == "gemma2") {
            config["model_type"] = "gemma2";
            config["architectures"] = {"Gemma2ForCausalLM"};
            config["rope_theta"] = 10000.0;
            config["query_pre_attn_scalar"] = 24;
            config["attn_logit_softcapping"] = 2.0;
            config["final_logit_softcapping"] = 5.0;
            config["tie_word_embeddings"] = true;
        } else {
            config["model_type"] = "gemma3_text";
            config["architectures"] = {"Gemma3ForCausalLM"};
            config["rope_theta"] = 1000000.0;
            config["rope_local_base_freq"] = 100.0;
            config["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
            config["query_pre_attn_scalar"] = 40;
            config["attn_logit_softcapping"] = nullptr;
            config["final_logit_softcapping"] = nullptr;
            config["sliding_window_pattern"] = 3;
        }
    } else if (family == "qwen3") {
        config["architectures"] = {"Qwen3ForCausalLM"};
        config["head_dim"] = 32;
        config["rope_theta"] = 1000000.0;
        config["attention_bias"] = true;
        config["tie_word_embeddings"] = true;
        config["use_sliding_window"] = true;
        config["sliding_window"] = 8;
        config["layer_types"] = {"full_attention", "full_attention", "sliding_attention",
                                 "sliding_attention"};
    } else {
        config["architectures"] = {"Qwen2ForCausalLM"};
        config["rope_theta"] = 1000000.0;
        config["tie_word_embeddings"] = true;
        config["use_sliding_window"] = false;
        config["sliding_window"] = 4096;
    }
    return config;
}

} // namespace

std::vector<std::string> testModelShapes()
{
    std::vector<std::string> names;
    for (const Shape &shape : shapes())
        names.push_back(std::string(shape.name) + " (" + (*shape.family ? shape.family : "all")
                        + ")");
    return names;
}

std::string familyOfShape(const std::string &shape, const std::string &fallback)
{
    if (shape == "bloom-560m")
        return "bloom";
    if (shape == "qwen2-0.5b")
        return "qwen2";
    if (shape == "qwen3-8b")
        return "qwen3";
    if (shape == "gemma-2-9b")
        return "gemma2";
    if (shape == "mixtral-8x7b")
        return "mixtral";
    if (shape == "falcon-7b")
        return "falcon-mqa";
    if (shape == "gemma-3-12b")
        return "gemma3";
    if (shape == "tinyllama-1.1b" || shape == "llama-3.2-1b" || shape == "llama-3-8b")
        return "llama";
    return fallback;
}

Result<std::string> testModelConfigJson(const TestModelSpec &spec)
{
    static const std::vector<std::string> families = {
        "llama",  "mistral", "mixtral",    "qwen2",      "qwen3",        "gemma2",
        "gemma3", "falcon",  "falcon-1ln", "falcon-mqa", "falcon-alibi", "bloom"};
    if (std::find(families.begin(), families.end(), spec.family) == families.end())
        return makeError(
            ErrorCode::InvalidArgument,
            "unknown family '" + spec.family
                + "' (choose llama, mistral, mixtral, qwen2, qwen3, gemma2, gemma3, falcon, "
                  "falcon-1ln, falcon-mqa, falcon-alibi or bloom)");
    for (const Shape &shape : shapes()) {
        if (spec.shape != shape.name)
            continue;
        if (*shape.family && spec.family != shape.family)
            return makeError(ErrorCode::InvalidArgument,
                             "shape '" + spec.shape + "' is a " + shape.family + " shape");
        Json config = familyDefaults(spec.family);
        const bool bloom = spec.family == "bloom";
        const bool falcon = spec.family.rfind("falcon", 0) == 0;
        for (const auto &[key, value] : shape.config.items()) {
            // Llama-style keys of the generic shapes, in BLOOM's spelling.
            std::string name = key;
            if (bloom && key == "num_hidden_layers")
                name = "n_layer";
            if (bloom && key == "num_attention_heads")
                name = "n_head";
            if (bloom && (key == "intermediate_size" || key == "num_key_value_heads"))
                continue;
            // ... and in Falcon's.
            if (falcon && key == "intermediate_size")
                name = "ffn_hidden_size";
            if (falcon && key == "num_key_value_heads")
                name = "num_kv_heads";
            config[name] = value;
        }
        config["torch_dtype"] = spec.storage == at::kFloat ? "float32" : "bfloat16";
        return config.dump(2);
    }
    std::string known;
    for (const std::string &name : testModelShapes())
        known += (known.empty() ? "" : ", ") + name;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown shape '" + spec.shape + "' (known: " + known + ")");
}

} // namespace corolla
