// What prompt tuning reads and writes: training examples of each JSON Lines kind with the
// tokens their loss sees, malformed lines named by their number, and prompts files that
// round-trip and are refused when they do not fit the model or are damaged.

#include <fstream>

#include <ATen/TensorOperators.h>
#include <ATen/ops/full.h>

#include <QTemporaryDir>
#include <QtTest>

#include "loader/safetensorswriter.h"
#include "model/clienthead.h"
#include "model/families.h"
#include "tokenizer/tokenizer.h"
#include "train/trainableprompts.h"
#include "train/trainingdata.h"

using namespace corolla;
using namespace corolla::testing;

namespace {

// The tokens an example's loss sees, as text.
std::string targetText(const Tokenizer &tokenizer, const TrainingExample &example)
{
    std::vector<std::int64_t> ids;
    for (std::size_t t = 0; t < example.ids.size(); ++t) {
        if (example.target[t])
            ids.push_back(example.ids[t]);
    }
    return *tokenizer.decode(ids, SpecialTokens::Include);
}

void writeFile(const QString &path, const std::string &text)
{
    std::ofstream(path.toStdString(), std::ios::binary) << text;
}

} // namespace

class TestTrainingData : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<Tokenizer> m_tokenizer;
    ModelConfig m_config;

    QString path(const char *name) const { return m_dir.filePath(QString::fromLatin1(name)); }
    Result<TrainingExample> parse(const std::string &line, TrainingDataOptions options = {})
    {
        return parseTrainingExample(line, *m_tokenizer, options);
    }
    void refused(const std::string &line, const std::string &why)
    {
        auto example = parse(line);
        QVERIFY2(!example, line.c_str());
        QVERIFY2(example.error().message.find(why) != std::string::npos,
                 example.error().message.c_str());
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(writeTestModel(m_dir.filePath(QStringLiteral("model")).toStdString(),
                               {"llama", "tiny", at::kFloat, 3}, 1));
        auto tokenizer = Tokenizer::load(m_dir.filePath(QStringLiteral("model")).toStdString());
        QVERIFY(tokenizer);
        m_tokenizer = std::move(*tokenizer);
        auto config = ModelConfig::load(m_dir.filePath(QStringLiteral("model")).toStdString());
        QVERIFY(config);
        m_config = *config;
    }

    void textLearnsEveryToken()
    {
        auto example = parse("{\"text\": \"Roses are red\"}");
        QVERIFY(example);
        QCOMPARE(example->ids, *m_tokenizer->encode("Roses are red", SpecialTokens::Include));
        QCOMPARE(int(example->target.front()), 0); // nothing predicts the first token
        QCOMPARE(example->targets(), std::int64_t(example->ids.size()) - 1);
    }

    void completionLearnsTheCompletionAndTheEnd()
    {
        auto example = parse("{\"prompt\": \"Q: sky? A:\", \"completion\": \" blue\"}");
        QVERIFY(example);
        QCOMPARE(example->ids.back(), *m_tokenizer->eosTokenId());
        QCOMPARE(targetText(*m_tokenizer, *example), std::string(" blue</s>"));
    }

    void messagesLearnTheAssistantTurns()
    {
        auto example = parse("{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                             "{\"role\": \"user\", \"content\": \"Hi\"},"
                             "{\"role\": \"assistant\", \"content\": \"Hello\"},"
                             "{\"role\": \"user\", \"content\": \"Bye\"},"
                             "{\"role\": \"assistant\", \"content\": \"Ciao\"}]}");
        QVERIFY2(example, example ? "" : example.error().message.c_str());
        const std::string learned = targetText(*m_tokenizer, *example);
        QVERIFY2(learned.find("Hello") != std::string::npos
                     && learned.find("Ciao") != std::string::npos,
                 learned.c_str());
        QVERIFY2(learned.find("Hi") == std::string::npos && learned.find("Bye") == std::string::npos
                     && learned.find("brief") == std::string::npos
                     && learned.find("assistant") == std::string::npos,
                 learned.c_str());
    }

    void malformedExamplesSayWhy()
    {
        refused("{\"text\": ", "not valid JSON");
        refused("[1, 2]", "not a JSON object");
        refused("{\"input\": \"x\"}", "no \"text\"");
        refused("{\"text\": 5}", "\"text\" must be a string");
        refused("{\"prompt\": \"x\"}", "\"completion\" must be a string");
        refused("{\"prompt\": \"x\", \"completion\": \"\"}", "\"completion\" is empty");
        refused("{\"messages\": []}", "non-empty array");
        refused("{\"messages\": [{\"role\": \"user\"}]}", "string \"role\" and \"content\"");
        refused("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
                "no \"assistant\" turn");
        refused("{\"text\": \"\"}", "no tokens to learn from");
        auto tooLong = parse("{\"text\": \"a long line of text\"}", {.maxTokens = 4});
        QVERIFY(!tooLong);
        QVERIFY(tooLong.error().message.find("more than the 4 allowed") != std::string::npos);
    }

    void aFileNamesTheBadLine()
    {
        writeFile(path("data.jsonl"), "{\"text\": \"one\"}\n\n   \r\n{\"text\": 5}\n");
        auto examples = readTrainingData(path("data.jsonl").toStdString(), *m_tokenizer);
        QVERIFY(!examples);
        QVERIFY2(examples.error().message.find("data.jsonl:4: \"text\" must be a string")
                     != std::string::npos,
                 examples.error().message.c_str());

        writeFile(path("good.jsonl"), "{\"text\": \"one\"}\r\n\n{\"prompt\": \"a\", "
                                      "\"completion\": \"b\"}");
        auto good = readTrainingData(path("good.jsonl").toStdString(), *m_tokenizer);
        QVERIFY(good);
        QCOMPARE(good->size(), std::size_t(2));

        writeFile(path("empty.jsonl"), "\n \n");
        auto empty = readTrainingData(path("empty.jsonl").toStdString(), *m_tokenizer);
        QVERIFY(!empty && empty.error().message.find("no training examples") != std::string::npos);
        auto missing = readTrainingData(path("missing.jsonl").toStdString(), *m_tokenizer);
        QVERIFY(!missing && missing.error().message.find("cannot open") != std::string::npos);
    }

    void promptsRoundTrip()
    {
        auto head = ClientHead::open(m_dir.filePath(QStringLiteral("model")).toStdString(),
                                     m_config, at::kFloat);
        QVERIFY(head);
        for (PromptMethod method : {PromptMethod::PTune, PromptMethod::DeepPTune}) {
            auto prompts = TrainablePrompts::initial(m_config, **head, method, 5, 1);
            QVERIFY(prompts);
            QCOMPARE(prompts->prefix.sizes(), (at::IntArrayRef{5, m_config.hiddenSize}));
            if (method == PromptMethod::DeepPTune)
                prompts->deep.copy_(randomHidden(prompts->deep.sizes().vec(), 2));
            const std::string file = path("prompts.safetensors").toStdString();
            QVERIFY(prompts->save(file, "test/tiny"));
            auto loaded = TrainablePrompts::load(file, m_config);
            QVERIFY2(loaded, loaded ? "" : loaded.error().message.c_str());
            QVERIFY(loaded->method == method);
            QCOMPARE(loaded->modelId, std::string("test/tiny"));
            QVERIFY(TrainablePrompts::load(file, m_config, "test/tiny"));
            auto another = TrainablePrompts::load(file, m_config, "test/other");
            QVERIFY(!another);
            QVERIFY2(another.error().message.find("was trained for the model test/tiny, not for "
                                                  "this one (test/other)")
                         != std::string::npos,
                     another.error().message.c_str());
            QVERIFY(loaded->prefix.equal(prompts->prefix));
            QCOMPARE(loaded->deep.defined(), method == PromptMethod::DeepPTune);
            if (loaded->deep.defined())
                QVERIFY(loaded->deep.equal(prompts->deep));
        }
        QVERIFY(!TrainablePrompts::initial(m_config, **head, PromptMethod::PTune, 0, 1));
        QVERIFY(!promptMethodFromName("lora"));
    }

    void badPromptsFilesAreRefused()
    {
        const std::int64_t hidden = m_config.hiddenSize, layers = m_config.numLayers;
        auto refusedFile = [&](const std::map<std::string, at::Tensor> &tensors,
                               const std::map<std::string, std::string> &metadata,
                               const std::string &why) {
            const std::string file = path("bad.safetensors").toStdString();
            QVERIFY(writeSafetensors(file, tensors, metadata));
            auto loaded = TrainablePrompts::load(file, m_config);
            QVERIFY(!loaded);
            QVERIFY2(loaded.error().message.find(why) != std::string::npos,
                     loaded.error().message.c_str());
        };
        const at::Tensor prefix = at::full({4, hidden}, 0.5f);
        refusedFile({{"weight", prefix}}, {}, "not a prompts file");
        refusedFile({{"prompt_embeddings", at::full({4, hidden + 1}, 0.5f)}}, {},
                    "prompt_embeddings is [4, " + std::to_string(hidden + 1) + "]");
        refusedFile({{"prompt_embeddings", prefix},
                     {"intermediate_prompt_embeddings", at::full({layers + 1, 4, hidden}, 0.f)}},
                    {}, "intermediate_prompt_embeddings is");
        refusedFile({{"prompt_embeddings", prefix / 0.0f - prefix / 0.0f}}, {}, "NaN");
        refusedFile({{"prompt_embeddings", prefix},
                     {"intermediate_prompt_embeddings", at::full({layers, 4, hidden}, 0.f)}},
                    {{"method", "ptune"}}, "the metadata says ptune");

        writeFile(path("garbage.safetensors"), "this is not a safetensors file at all");
        QVERIFY(!TrainablePrompts::load(path("garbage.safetensors").toStdString(), m_config));
        QVERIFY(!TrainablePrompts::load(path("absent.safetensors").toStdString(), m_config));
    }
};

QTEST_GUILESS_MAIN(TestTrainingData)
#include "testtrainingdata.moc"
