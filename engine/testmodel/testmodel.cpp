#include "testmodel/testmodel.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randn.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include "loader/safetensorswriter.h"

namespace corolla {

namespace fs = std::filesystem;
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

std::uint64_t nameSeed(std::uint64_t seed, const std::string &name)
{
    std::uint64_t hash = 1469598103934665603ull ^ seed; // FNV-1a
    for (unsigned char c : name) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

// GPT-2's byte-to-character table: printable bytes map to themselves, the rest to U+0100+.
std::string byteToken(int byte)
{
    static const std::vector<int> table = [] {
        std::vector<int> chars(256, 0);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            chars[std::size_t(b)] = printable ? b : 256 + extra++;
        }
        return chars;
    }();
    const int codepoint = table[std::size_t(byte)];
    std::string utf8;
    if (codepoint < 0x80) {
        utf8 += char(codepoint);
    } else {
        utf8 += char(0xC0 | (codepoint >> 6));
        utf8 += char(0x80 | (codepoint & 0x3F));
    }
    return utf8;
}

// A byte-level BPE tokenizer without merges: every byte is a token. Ids 0-2 are specials,
// and ids past the 259 byte tokens up to the model's vocabulary are reserved special tokens,
// so that every id a model can emit decodes.
Json tokenizerJson(std::int64_t vocabSize)
{
    Json vocab = Json::object();
    vocab["<unk>"] = 0;
    vocab["<s>"] = 1;
    vocab["</s>"] = 2;
    for (int b = 0; b < 256; ++b)
        vocab[byteToken(b)] = 3 + b;
    Json added = Json::array();
    auto addSpecial = [&](std::int64_t id, const std::string &text) {
        added.push_back({{"id", id},
                         {"content", text},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
    };
    addSpecial(0, "<unk>");
    addSpecial(1, "<s>");
    addSpecial(2, "</s>");
    for (std::int64_t id = 3 + 256; id < vocabSize; ++id)
        addSpecial(id, "<|reserved_" + std::to_string(id) + "|>");
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", added},
            {"normalizer", nullptr},
            {"pre_tokenizer",
             {{"type", "ByteLevel"},
              {"add_prefix_space", false},
              {"trim_offsets", true},
              {"use_regex", true}}},
            {"post_processor", nullptr},
            {"decoder",
             {{"type", "ByteLevel"},
              {"add_prefix_space", true},
              {"trim_offsets", true},
              {"use_regex", true}}},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"vocab", vocab},
              {"merges", Json::array()}}}};
}

Json tokenizerConfigJson()
{
    return {{"add_bos_token", true},
            {"add_eos_token", false},
            {"bos_token", "<s>"},
            {"eos_token", "</s>"},
            {"unk_token", "<unk>"},
            {"model_max_length", 4096},
            {"tokenizer_class", "PreTrainedTokenizerFast"},
            {"chat_template", "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + "
                              "message['content'] + '</s>\\n' }}{% endfor %}"
                              "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"}};
}

Result<void> writeText(const fs::path &path, const std::string &text)
{
    std::ofstream out(path, std::ios::trunc);
    out << text << '\n';
    if (!out.flush())
        return makeError(ErrorCode::Io, path.string() + ": cannot write the file");
    return {};
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
    if (shape == "gemma-3-12b")
        return "gemma3";
    if (shape == "tinyllama-1.1b" || shape == "llama-3.2-1b")
        return "llama";
    return fallback;
}

Result<std::string> testModelConfigJson(const TestModelSpec &spec)
{
    static const std::vector<std::string> families = {"llama", "mistral", "mixtral", "qwen2",
                                                      "qwen3", "gemma2",  "gemma3",  "bloom"};
    if (std::find(families.begin(), families.end(), spec.family) == families.end())
        return makeError(
            ErrorCode::InvalidArgument,
            "unknown family '" + spec.family
                + "' (choose llama, mistral, mixtral, qwen2, qwen3, gemma2, gemma3 or bloom)");
    for (const Shape &shape : shapes()) {
        if (spec.shape != shape.name)
            continue;
        if (*shape.family && spec.family != shape.family)
            return makeError(ErrorCode::InvalidArgument,
                             "shape '" + spec.shape + "' is a " + shape.family + " shape");
        Json config = familyDefaults(spec.family);
        const bool bloom = spec.family == "bloom";
        for (const auto &[key, value] : shape.config.items()) {
            // Llama-style keys of the generic shapes, in BLOOM's spelling.
            std::string name = key;
            if (bloom && key == "num_hidden_layers")
                name = "n_layer";
            if (bloom && key == "num_attention_heads")
                name = "n_head";
            if (bloom && (key == "intermediate_size" || key == "num_key_value_heads"))
                continue;
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

std::vector<TestTensor> testTensors(const ModelConfig &config)
{
    std::vector<TestTensor> tensors;
    using Kind = TestTensor::Kind;
    auto add = [&](const std::string &name, std::vector<std::int64_t> shape, Kind kind) {
        tensors.push_back({name, std::move(shape), kind});
    };
    const std::int64_t h = config.hiddenSize, vocab = config.vocabSize;
    if (config.architecture == Architecture::Bloom) {
        add("word_embeddings.weight", {vocab, h}, Kind::Embedding);
        add("word_embeddings_layernorm.weight", {h}, Kind::Norm);
        add("word_embeddings_layernorm.bias", {h}, Kind::Bias);
        add("ln_f.weight", {h}, Kind::Norm);
        add("ln_f.bias", {h}, Kind::Bias);
        for (std::int64_t i = 0; i < config.numLayers; ++i) {
            const std::string p = "h." + std::to_string(i) + ".";
            add(p + "input_layernorm.weight", {h}, Kind::Norm);
            add(p + "input_layernorm.bias", {h}, Kind::Bias);
            add(p + "self_attention.query_key_value.weight", {3 * h, h}, Kind::Matrix);
            add(p + "self_attention.query_key_value.bias", {3 * h}, Kind::Bias);
            add(p + "self_attention.dense.weight", {h, h}, Kind::Matrix);
            add(p + "self_attention.dense.bias", {h}, Kind::Bias);
            add(p + "post_attention_layernorm.weight", {h}, Kind::Norm);
            add(p + "post_attention_layernorm.bias", {h}, Kind::Bias);
            add(p + "mlp.dense_h_to_4h.weight", {4 * h, h}, Kind::Matrix);
            add(p + "mlp.dense_h_to_4h.bias", {4 * h}, Kind::Bias);
            add(p + "mlp.dense_4h_to_h.weight", {h, 4 * h}, Kind::Matrix);
            add(p + "mlp.dense_4h_to_h.bias", {h}, Kind::Bias);
        }
        return tensors;
    }
    const std::int64_t q = config.numHeads * config.headDim,
                       kv = config.numKvHeads * config.headDim;
    const std::int64_t ffn = config.intermediateSize;
    // Gemma's norms store scale - 1.
    const bool gemma = config.architecture == Architecture::Gemma;
    const Kind norm = gemma ? Kind::NormOffset : Kind::Norm;
    add("model.embed_tokens.weight", {vocab, h}, Kind::Embedding);
    add("model.norm.weight", {h}, norm);
    if (!config.tieWordEmbeddings)
        add("lm_head.weight", {vocab, h}, Kind::Matrix);
    for (std::int64_t i = 0; i < config.numLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        add(p + "input_layernorm.weight", {h}, norm);
        add(p + "post_attention_layernorm.weight", {h}, norm);
        if (gemma) {
            add(p + "pre_feedforward_layernorm.weight", {h}, norm);
            add(p + "post_feedforward_layernorm.weight", {h}, norm);
        }
        add(p + "self_attn.q_proj.weight", {q, h}, Kind::Matrix);
        add(p + "self_attn.k_proj.weight", {kv, h}, Kind::Matrix);
        add(p + "self_attn.v_proj.weight", {kv, h}, Kind::Matrix);
        add(p + "self_attn.o_proj.weight", {h, q}, Kind::Matrix);
        if (config.architecture == Architecture::Mixtral) {
            add(p + "block_sparse_moe.gate.weight", {config.numExperts, h}, Kind::Matrix);
            for (std::int64_t e = 0; e < config.numExperts; ++e) {
                const std::string expert =
                    p + "block_sparse_moe.experts." + std::to_string(e) + ".";
                add(expert + "w1.weight", {ffn, h}, Kind::Matrix);
                add(expert + "w2.weight", {h, ffn}, Kind::Matrix);
                add(expert + "w3.weight", {ffn, h}, Kind::Matrix);
            }
        } else {
            add(p + "mlp.gate_proj.weight", {ffn, h}, Kind::Matrix);
            add(p + "mlp.up_proj.weight", {ffn, h}, Kind::Matrix);
            add(p + "mlp.down_proj.weight", {h, ffn}, Kind::Matrix);
        }
        if (config.qkvBias) {
            add(p + "self_attn.q_proj.bias", {q}, Kind::Bias);
            add(p + "self_attn.k_proj.bias", {kv}, Kind::Bias);
            add(p + "self_attn.v_proj.bias", {kv}, Kind::Bias);
        }
        if (config.outputBias)
            add(p + "self_attn.o_proj.bias", {h}, Kind::Bias);
        if (config.qkNorm) {
            add(p + "self_attn.q_norm.weight", {config.headDim}, norm);
            add(p + "self_attn.k_norm.weight", {config.headDim}, norm);
        }
        if (config.mlpBias) {
            add(p + "mlp.gate_proj.bias", {ffn}, Kind::Bias);
            add(p + "mlp.up_proj.bias", {ffn}, Kind::Bias);
            add(p + "mlp.down_proj.bias", {h}, Kind::Bias);
        }
    }
    return tensors;
}

at::Tensor makeTestTensor(const TestTensor &tensor, std::uint64_t seed, at::ScalarType storage)
{
    at::NoGradGuard noGrad;
    // Linear weights ~ N(0, 1/in), norm weights ~ 1 + N(0, 0.1^2) (Gemma's offsets from 1
    // ~ N(0, 0.1^2)), biases ~ N(0, 0.1^2),
    // embeddings ~ N(0, 1): activations stay O(1) through any depth.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(nameSeed(seed, tensor.name));
    at::Tensor values = at::randn(tensor.shape, generator, at::TensorOptions().dtype(at::kFloat));
    switch (tensor.kind) {
    case TestTensor::Kind::Matrix: values /= std::sqrt(double(tensor.shape.back())); break;
    case TestTensor::Kind::Norm: values = 1.0 + 0.1 * values; break;
    case TestTensor::Kind::NormOffset: values *= 0.1; break;
    case TestTensor::Kind::Bias: values *= 0.1; break;
    case TestTensor::Kind::Embedding: break;
    }
    return values.to(storage);
}

std::map<std::string, at::Tensor> makeTestWeights(const ModelConfig &config, std::uint64_t seed,
                                                  at::ScalarType storage)
{
    std::map<std::string, at::Tensor> weights;
    for (const TestTensor &tensor : testTensors(config))
        weights.emplace(tensor.name, makeTestTensor(tensor, seed, storage));
    return weights;
}

Result<void> writeTestModel(const std::string &directory, const TestModelSpec &spec, int shards)
{
    auto configText = testModelConfigJson(spec);
    if (!configText)
        return configText.error();
    auto config = ModelConfig::parse(*configText, "generated config.json");
    if (!config)
        return config.error();
    std::error_code error;
    fs::create_directories(directory, error);
    if (error)
        return makeError(ErrorCode::Io,
                         directory + ": cannot create the folder: " + error.message());
    const fs::path folder(directory);
    for (const auto &[name, text] :
         {std::pair{"config.json", *configText},
          {"tokenizer.json", tokenizerJson(config->vocabSize).dump(2)},
          {"tokenizer_config.json", tokenizerConfigJson().dump(2)},
          {"generation_config.json",
           Json{{"bos_token_id", 1}, {"eos_token_id", 2}, {"do_sample", false}}.dump(2)}}) {
        if (auto written = writeText(folder / name, text); !written)
            return written;
    }
    return writeCheckpointWeights(directory, makeTestWeights(*config, spec.seed, spec.storage),
                                  shards);
}

} // namespace corolla
