// config.json parsing for every family, with the aliases and defaults of Hugging Face, and
// clear errors for what we cannot run.

#include <QtTest>

#include "model/modelconfig.h"

using namespace corolla;

class TestModelConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void llama3()
    {
        auto config = ModelConfig::parse(R"({
            "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
            "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
            "vocab_size": 128256, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
            "head_dim": 64, "tie_word_embeddings": true, "max_position_embeddings": 131072,
            "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"},
            "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})",
                                         "config.json");
        QVERIFY2(config.ok(), config.ok() ? "" : config.error().message.c_str());
        QCOMPARE(config->architecture, Architecture::Llama);
        QCOMPARE(config->numKvHeads, 8);
        QCOMPARE(config->headDim, 64);
        QCOMPARE(config->rope.scaling, RopeConfig::Scaling::Llama3);
        QCOMPARE(config->rope.factor, 32.0);
        QCOMPARE(config->rope.originalMaxPositions, 8192);
        QVERIFY(config->tieWordEmbeddings);
        QCOMPARE(config->eosTokenIds, (std::vector<std::int64_t>{128001, 128008, 128009}));
        QCOMPARE(*config->bosTokenId, 128000);
        QVERIFY(!config->qkvBias);
    }

    void qwen2AndMistral()
    {
        auto qwen = ModelConfig::parse(R"({"model_type": "qwen2", "hidden_size": 896,
            "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "vocab_size": 151936, "rope_theta": 1000000.0,
            "sliding_window": 32768, "use_sliding_window": false, "max_window_layers": 21,
            "tie_word_embeddings": true})",
                                       "q");
        QVERIFY(qwen.ok());
        QVERIFY(qwen->qkvBias);
        QVERIFY(!qwen->outputBias);
        QCOMPARE(qwen->headDim, 64);
        QCOMPARE(qwen->slidingWindow, 0);

        auto mistral = ModelConfig::parse(R"({"model_type": "mistral", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 1, "vocab_size": 100, "sliding_window": 4096})",
                                          "m");
        QVERIFY(mistral.ok());
        QCOMPARE(mistral->slidingWindow, 4096);
        QVERIFY(mistral->usesSlidingWindow(1));
        QCOMPARE(mistral->rope.theta, 10000.0);
    }

    void perLayerAttentionTypes()
    {
        auto config = ModelConfig::parse(R"({"model_type": "qwen2", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
            "vocab_size": 100, "sliding_window": 16, "use_sliding_window": true,
            "layer_types": ["full_attention", "sliding_attention", "full_attention"]})",
                                         "q");
        QVERIFY(config.ok());
        QCOMPARE(config->slidingWindow, 16);
        QVERIFY(!config->usesSlidingWindow(0));
        QVERIFY(config->usesSlidingWindow(1));
        QVERIFY(!config->usesSlidingWindow(2));

        auto legacy = ModelConfig::parse(R"({"model_type": "qwen2", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
            "vocab_size": 100, "sliding_window": 16, "use_sliding_window": true,
            "max_window_layers": 2})",
                                         "q");
        QVERIFY(legacy.ok());
        QVERIFY(!legacy->usesSlidingWindow(1));
        QVERIFY(legacy->usesSlidingWindow(2));
    }

    // Qwen3-8B's config.json: q/k norms, head_dim of its own, no window unless
    // use_sliding_window; a Qwen3 config without head_dim means 128, as transformers' does.
    void qwen3()
    {
        auto config = ModelConfig::parse(R"({"architectures": ["Qwen3ForCausalLM"],
            "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 151643,
            "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
            "initializer_range": 0.02, "intermediate_size": 12288,
            "max_position_embeddings": 40960, "max_window_layers": 36, "model_type": "qwen3",
            "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8,
            "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
            "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
            "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false,
            "vocab_size": 151936})",
                                         "qwen3-8b");
        QVERIFY2(config.ok(), config.ok() ? "" : config.error().message.c_str());
        QCOMPARE(config->architecture, Architecture::Llama);
        QVERIFY(config->qkNorm);
        QVERIFY(!config->qkvBias && !config->outputBias && !config->mlpBias);
        QCOMPARE(config->headDim, 128);
        QCOMPARE(config->numKvHeads, 8);
        QCOMPARE(config->slidingWindow, 0);
        QCOMPARE(config->rope.theta, 1000000.0);
        QVERIFY(!config->tieWordEmbeddings);
        QCOMPARE(config->eosTokenIds, (std::vector<std::int64_t>{151645}));

        // A window only with use_sliding_window, from max_window_layers on; attention_bias
        // puts biases on q, k, v and o; head_dim defaults to 128 even when hidden / heads is
        // not whole.
        auto windowed = ModelConfig::parse(R"({"model_type": "qwen3", "hidden_size": 100,
            "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 3,
            "num_key_value_heads": 1, "vocab_size": 100, "attention_bias": true,
            "use_sliding_window": true, "sliding_window": 16, "max_window_layers": 3})",
                                           "q3");
        QVERIFY2(windowed.ok(), windowed.ok() ? "" : windowed.error().message.c_str());
        QCOMPARE(windowed->headDim, 128);
        QVERIFY(windowed->qkvBias && windowed->outputBias);
        QCOMPARE(windowed->slidingWindow, 16);
        QVERIFY(!windowed->usesSlidingWindow(2));
        QVERIFY(windowed->usesSlidingWindow(3));

        auto unused = ModelConfig::parse(R"({"model_type": "qwen3", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "vocab_size": 100, "use_sliding_window": false, "sliding_window": 16,
            "layer_types": ["sliding_attention", "sliding_attention"]})",
                                         "q3");
        QVERIFY(unused.ok());
        QVERIFY(!unused->usesSlidingWindow(0));
    }

    // Gemma-2-9B's config.json: soft-capping, query_pre_attn_scalar, local layers first.
    void gemma2()
    {
        auto config = ModelConfig::parse(R"({"architectures": ["Gemma2ForCausalLM"],
            "attention_bias": false, "attention_dropout": 0.0, "attn_logit_softcapping": 50.0,
            "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1,
            "final_logit_softcapping": 30.0, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
            "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 3584,
            "initializer_range": 0.02, "intermediate_size": 14336,
            "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": 16,
            "num_hidden_layers": 42, "num_key_value_heads": 8, "pad_token_id": 0,
            "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
            "sliding_window": 4096, "sliding_window_size": 4096, "torch_dtype": "float32",
            "transformers_version": "4.42.0.dev0", "use_cache": true, "vocab_size": 256000})",
                                         "gemma-2-9b");
        QVERIFY2(config.ok(), config.ok() ? "" : config.error().message.c_str());
        QCOMPARE(config->architecture, Architecture::Gemma);
        QCOMPARE(config->headDim, 256);
        QCOMPARE(config->attentionScale, 1.0 / 16.0);
        QCOMPARE(config->attentionSoftcap, 50.0);
        QCOMPARE(config->finalSoftcap, 30.0);
        QCOMPARE(config->slidingWindow, 4096);
        QVERIFY(config->usesSlidingWindow(0) && !config->usesSlidingWindow(1));
        QVERIFY(config->usesSlidingWindow(40) && !config->usesSlidingWindow(41));
        QVERIFY(config->tieWordEmbeddings && !config->qkNorm && !config->localRope);
        QCOMPARE(config->eosTokenIds, (std::vector<std::int64_t>{1}));

        // Absent caps take Gemma 2's defaults; null ones switch the capping off.
        const std::string minimal = R"({"model_type": "gemma2", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
            "vocab_size": 100)";
        auto defaults = ModelConfig::parse(minimal + "}", "g2");
        QVERIFY(defaults.ok());
        QCOMPARE(defaults->attentionSoftcap, 50.0);
        QCOMPARE(defaults->finalSoftcap, 30.0);
        QCOMPARE(defaults->headDim, 256);
        QCOMPARE(defaults->attentionScale, 1.0 / 16.0);
        auto uncapped = ModelConfig::parse(
            minimal + R"(, "attn_logit_softcapping": null, "final_logit_softcapping": null})",
            "g2");
        QVERIFY(uncapped.ok());
        QCOMPARE(uncapped->attentionSoftcap, 0.0);
        QCOMPARE(uncapped->finalSoftcap, 0.0);
    }

    // Gemma-3-1B's config.json (gemma3_text): q/k norms, a local rope, every sixth layer global.
    void gemma3()
    {
        auto config = ModelConfig::parse(R"({"architectures": ["Gemma3ForCausalLM"],
            "attention_bias": false, "attention_dropout": 0.0, "attn_logit_softcapping": null,
            "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 106],
            "final_logit_softcapping": null, "head_dim": 256,
            "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 1152,
            "initializer_range": 0.02, "intermediate_size": 6912,
            "max_position_embeddings": 32768, "model_type": "gemma3_text",
            "num_attention_heads": 4, "num_hidden_layers": 26, "num_key_value_heads": 1,
            "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
            "rope_local_base_freq": 10000, "rope_scaling": null, "rope_theta": 1000000,
            "sliding_window": 512, "sliding_window_pattern": 6, "torch_dtype": "bfloat16",
            "transformers_version": "4.50.0.dev0", "use_cache": true, "vocab_size": 262144})",
                                         "gemma-3-1b");
        QVERIFY2(config.ok(), config.ok() ? "" : config.error().message.c_str());
        QCOMPARE(config->architecture, Architecture::Gemma);
        QVERIFY(config->qkNorm);
        QCOMPARE(config->attentionSoftcap, 0.0);
        QCOMPARE(config->finalSoftcap, 0.0);
        QCOMPARE(config->rope.theta, 1000000.0);
        QVERIFY(config->localRope.has_value());
        QCOMPARE(config->localRope->theta, 10000.0);
        QCOMPARE(config->localRope->scaling, RopeConfig::Scaling::None);
        QCOMPARE(config->slidingWindow, 512);
        for (std::int64_t layer = 0; layer < 26; ++layer)
            QCOMPARE(config->usesSlidingWindow(layer), layer % 6 != 5);
        QCOMPARE(config->eosTokenIds, (std::vector<std::int64_t>{1, 106}));

        // Linear rope scaling (Gemma 3 4B and up) applies to the global layers only;
        // layer_types overrides the pattern.
        auto scaled = ModelConfig::parse(R"({"model_type": "gemma3_text", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "vocab_size": 100, "rope_scaling": {"rope_type": "linear", "factor": 8.0},
            "layer_types": ["full_attention", "sliding_attention"]})",
                                         "g3");
        QVERIFY2(scaled.ok(), scaled.ok() ? "" : scaled.error().message.c_str());
        QCOMPARE(scaled->rope.scaling, RopeConfig::Scaling::Linear);
        QCOMPARE(scaled->localRope->scaling, RopeConfig::Scaling::None);
        QVERIFY(!scaled->usesSlidingWindow(0) && scaled->usesSlidingWindow(1));
    }

    // Mixtral-8x7B's config.json: eight experts, two per token, no window.
    void mixtral()
    {
        auto config = ModelConfig::parse(R"({"architectures": ["MixtralForCausalLM"],
            "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
            "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
            "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32,
            "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8,
            "num_local_experts": 8, "output_router_logits": false, "rms_norm_eps": 1e-05,
            "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02, "sliding_window": null,
            "tie_word_embeddings": false, "torch_dtype": "bfloat16",
            "transformers_version": "4.36.0.dev0", "use_cache": true, "vocab_size": 32000})",
                                         "mixtral-8x7b");
        QVERIFY2(config.ok(), config.ok() ? "" : config.error().message.c_str());
        QCOMPARE(config->architecture, Architecture::Mixtral);
        QCOMPARE(config->numExperts, 8);
        QCOMPARE(config->expertsPerToken, 2);
        QCOMPARE(config->headDim, 128);
        QCOMPARE(config->slidingWindow, 0);
        QCOMPARE(config->rope.theta, 1000000.0);
        QVERIFY(!config->tieWordEmbeddings && !config->qkvBias);

        // A window as Mistral's; the defaults of transformers' MixtralConfig.
        auto windowed = ModelConfig::parse(R"({"model_type": "mixtral", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "vocab_size": 100, "sliding_window": 16})",
                                           "mx");
        QVERIFY2(windowed.ok(), windowed.ok() ? "" : windowed.error().message.c_str());
        QCOMPARE(windowed->numExperts, 8);
        QCOMPARE(windowed->expertsPerToken, 2);
        QCOMPARE(windowed->rope.theta, 1000000.0);
        QVERIFY(windowed->usesSlidingWindow(0) && windowed->usesSlidingWindow(1));
    }

    // Falcon's layouts from real config.json files: Falcon-7B (multi-query, parallel),
    // Falcon-40B in the older RefinedWeb spelling (the new decoder), Falcon-11B (the new decoder
    // on one norm), Falcon-RW-1B (ALiBi, per-head QKV, biases, in sequence).
    void falcon()
    {
        auto seven = ModelConfig::parse(R"({"alibi": false,
            "apply_residual_connection_post_layernorm": false,
            "architectures": ["FalconForCausalLM"], "attention_dropout": 0.0, "bias": false,
            "bos_token_id": 11, "eos_token_id": 11, "hidden_dropout": 0.0, "hidden_size": 4544,
            "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "falcon",
            "multi_query": true, "new_decoder_architecture": false, "num_attention_heads": 71,
            "num_hidden_layers": 32, "parallel_attn": true, "torch_dtype": "bfloat16",
            "transformers_version": "4.27.4", "use_cache": true, "vocab_size": 65024})",
                                        "falcon-7b");
        QVERIFY2(seven.ok(), seven.ok() ? "" : seven.error().message.c_str());
        QCOMPARE(seven->architecture, Architecture::Falcon);
        QVERIFY(seven->falcon.multiQuery && seven->falcon.parallel && !seven->falcon.newDecoder);
        QCOMPARE(seven->numKvHeads, 1);
        QCOMPARE(seven->headDim, 64);
        QCOMPARE(seven->intermediateSize, 4 * 4544);
        QVERIFY(seven->tieWordEmbeddings && !seven->qkvBias);

        auto forty = ModelConfig::parse(R"({"model_type": "RefinedWeb", "n_head": 128,
            "n_head_kv": 8, "n_layer": 60, "hidden_size": 8192, "parallel_attn": true,
            "bias": false, "alibi": false, "vocab_size": 65024})",
                                        "falcon-40b");
        QVERIFY2(forty.ok(), forty.ok() ? "" : forty.error().message.c_str());
        QVERIFY(forty->falcon.newDecoder && forty->falcon.twoNorms && !forty->falcon.multiQuery);
        QCOMPARE(forty->numHeads, 128);
        QCOMPARE(forty->numKvHeads, 8);
        QCOMPARE(forty->numLayers, 60);

        auto eleven = ModelConfig::parse(R"({"model_type": "falcon", "alibi": false,
            "bias": false, "hidden_size": 4096, "ffn_hidden_size": 16384,
            "new_decoder_architecture": true, "num_attention_heads": 32, "num_kv_heads": 8,
            "num_hidden_layers": 60, "num_ln_in_parallel_attn": 1, "parallel_attn": true,
            "rope_theta": 500042.0, "max_position_embeddings": 8192, "vocab_size": 65024})",
                                         "falcon-11b");
        QVERIFY2(eleven.ok(), eleven.ok() ? "" : eleven.error().message.c_str());
        QVERIFY(eleven->falcon.newDecoder && !eleven->falcon.twoNorms);
        QCOMPARE(eleven->intermediateSize, 16384);
        QCOMPARE(eleven->rope.theta, 500042.0);

        auto rw = ModelConfig::parse(R"({"alibi": true,
            "apply_residual_connection_post_layernorm": false,
            "architectures": ["FalconForCausalLM"], "bias": true, "hidden_size": 2048,
            "model_type": "falcon", "multi_query": false, "new_decoder_architecture": false,
            "num_attention_heads": 32, "num_hidden_layers": 24, "parallel_attn": false,
            "vocab_size": 50304})",
                                     "falcon-rw-1b");
        QVERIFY2(rw.ok(), rw.ok() ? "" : rw.error().message.c_str());
        QVERIFY(rw->falcon.alibi && !rw->falcon.parallel && !rw->falcon.multiQuery);
        QCOMPARE(rw->numKvHeads, 32);
        QVERIFY(rw->qkvBias && rw->outputBias && rw->mlpBias);
    }

    void bloomAliases()
    {
        auto config = ModelConfig::parse(R"({"model_type": "bloom", "n_embed": 1024,
            "n_layer": 24, "num_attention_heads": 16, "vocab_size": 250880,
            "apply_residual_connection_post_layernorm": false})",
                                         "b");
        QVERIFY2(config.ok(), config.ok() ? "" : config.error().message.c_str());
        QCOMPARE(config->architecture, Architecture::Bloom);
        QCOMPARE(config->hiddenSize, 1024);
        QCOMPARE(config->numLayers, 24);
        QCOMPARE(config->numHeads, 16);
        QCOMPARE(config->headDim, 64);
        QCOMPARE(config->intermediateSize, 4096);
        QVERIFY(config->tieWordEmbeddings);
        QCOMPARE(config->normEps, 1e-5);
    }

    void errorsNameTheProblem_data()
    {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("fragment");
        QTest::newRow("not json") << "{"
                                  << "not a JSON object";
        QTest::newRow("no type") << R"({"hidden_size": 4})"
                                 << "model_type";
        QTest::newRow("unknown type") << R"({"model_type": "gpt2"})"
                                      << "not supported";
        QTest::newRow("missing size") << R"({"model_type": "llama", "vocab_size": 5})"
                                      << "hidden_size";
        QTest::newRow("negative") << R"({"model_type": "llama", "hidden_size": -4})"
                                  << "positive";
        QTest::newRow("heads")
            << R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 6, "vocab_size": 9})"
            << "multiple";
        QTest::newRow("gqa")
            << R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 9})"
            << "num_key_value_heads";
        QTest::newRow("rope")
            << R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "rope_scaling": {"rope_type": "yarn", "factor": 4}})"
            << "yarn";
        QTest::newRow("activation")
            << R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9, "hidden_act": "gelu"})"
            << "hidden_act";
        QTest::newRow("qwen3 head_dim")
            << R"({"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9, "head_dim": 7})"
            << "head_dim";
        QTest::newRow("qwen3 layer_types")
            << R"({"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 9,
            "layer_types": ["full_attention"]})"
            << "layer_types";
        QTest::newRow("mixtral experts")
            << R"({"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "num_local_experts": 2, "num_experts_per_tok": 3})"
            << "num_experts_per_tok exceeds num_local_experts";
        QTest::newRow("mixtral no experts")
            << R"({"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "num_local_experts": 0})"
            << "num_local_experts";
        QTest::newRow("falcon heads")
            << R"({"model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 6, "vocab_size": 9})"
            << "hidden_size is not a multiple of num_attention_heads";
        QTest::newRow("falcon activation")
            << R"({"model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 9, "activation": "relu"})"
            << "activation other than 'gelu'";
        QTest::newRow("falcon norms")
            << R"({"model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 9, "new_decoder_architecture": true,
            "num_ln_in_parallel_attn": 3})"
            << "num_ln_in_parallel_attn";
        QTest::newRow("falcon kv heads")
            << R"({"model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "vocab_size": 9, "new_decoder_architecture": true,
            "num_kv_heads": 3})"
            << "num_key_value_heads";
        QTest::newRow("gemma activation")
            << R"({"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "hidden_activation": "gelu"})"
            << "gelu_pytorch_tanh";
        QTest::newRow("gemma softcap")
            << R"({"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "attn_logit_softcapping": -1})"
            << "attn_logit_softcapping";
        QTest::newRow("gemma query scalar")
            << R"({"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "query_pre_attn_scalar": 0})"
            << "query_pre_attn_scalar";
        QTest::newRow("gemma3 pattern")
            << R"({"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 9,
            "sliding_window_pattern": 0})"
            << "sliding_window_pattern";
        QTest::newRow("gemma3 multimodal")
            << R"({"model_type": "gemma3", "text_config": {"model_type": "gemma3_text"}})"
            << "gemma3_text";
    }

    void errorsNameTheProblem()
    {
        QFETCH(QString, json);
        QFETCH(QString, fragment);
        auto config = ModelConfig::parse(json.toStdString(), "config.json");
        QVERIFY(!config.ok());
        const QString message = QString::fromStdString(config.error().message);
        QVERIFY2(message.contains(fragment), qPrintable(message));
    }
};

QTEST_GUILESS_MAIN(TestModelConfig)
#include "testmodelconfig.moc"
