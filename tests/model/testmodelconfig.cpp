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
