#include "testmodel/testmodel.h"

#include <filesystem>
#include <fstream>
#include <tuple>

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

std::vector<TestTensor> testTensors(const ModelConfig &config)
{
    std::vector<TestTensor> tensors;
    using Kind = TestTensor::Kind;
    auto add = [&](const std::string &name, std::vector<std::int64_t> shape, Kind kind) {
        tensors.push_back({name, std::move(shape), kind});
    };
    const std::int64_t h = config.hiddenSize, vocab = config.vocabSize;
    if (config.architecture == Architecture::Falcon) {
        const FalconLayout &layout = config.falcon;
        const std::int64_t qkv = (config.numHeads + 2 * config.numKvHeads) * config.headDim;
        const std::int64_t ffn = config.intermediateSize;
        const bool twoNorms = layout.newDecoder && layout.twoNorms;
        add("transformer.word_embeddings.weight", {vocab, h}, Kind::Embedding);
        add("transformer.ln_f.weight", {h}, Kind::Norm);
        add("transformer.ln_f.bias", {h}, Kind::Bias);
        if (!config.tieWordEmbeddings)
            add("lm_head.weight", {vocab, h}, Kind::Matrix);
        for (std::int64_t i = 0; i < config.numLayers; ++i) {
            const std::string p = "transformer.h." + std::to_string(i) + ".";
            std::vector<std::string> norms{twoNorms ? "ln_attn" : "input_layernorm"};
            if (twoNorms || !layout.parallel)
                norms.push_back(twoNorms ? "ln_mlp" : "post_attention_layernorm");
            for (const std::string &norm : norms) {
                add(p + norm + ".weight", {h}, Kind::Norm);
                add(p + norm + ".bias", {h}, Kind::Bias);
            }
            const std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> projections{
                {"self_attention.query_key_value", qkv, h},
                {"self_attention.dense", h, h},
                {"mlp.dense_h_to_4h", ffn, h},
                {"mlp.dense_4h_to_h", h, ffn}};
            for (const auto &[name, rows, columns] : projections) {
                add(p + name + ".weight", {rows, columns}, Kind::Matrix);
                if (config.qkvBias)
                    add(p + name + ".bias", {rows}, Kind::Bias);
            }
        }
        return tensors;
    }
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
