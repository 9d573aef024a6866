// Prompt tuning through real server processes on 127.0.0.1: the prompts' gradients through
// three servers (fp32 on the wire) equal those on this machine, a server killed during the
// backward pass changes nothing, `corolla finetune --swarm` teaches a toy mapping that
// `corolla generate --prompts` (and `corolla api --prompts`) then produces, and bad data and
// prompts are refused clearly.

#include <QtTest>

#include <ATen/ATen.h>

#include "client/staticswarmclient.h"
#include "client/swarmarguments.h"
#include "client/tinytestmodel.h"
#include "loader/checkpoint.h"
#include "model/clienthead.h"
#include "swarm/modelidentity.h"
#include "swarm/serverrecord.h"
#include "swarm/staticregistry.h"
#include "testmodel/testmodel.h"
#include "tools/httpexchange.h"
#include "tools/peerprocesses.h"
#include "train/prompttrainer.h"
#include "train/trainingexamples.h"

using namespace corolla;
using namespace corolla::swarmtest;
using namespace corolla::testing;

namespace {

// Kills a server process as the backward pass begins, then lets it run.
class KillingBlocks : public TrainingBlocks {
public:
    KillingBlocks(TrainingBlocks &inner, std::function<void()> kill)
        : m_inner(inner)
        , m_kill(std::move(kill))
    {
    }
    Result<at::Tensor> forward(const at::Tensor &hidden, const std::vector<std::int64_t> &lengths,
                               const DeepPrompts &prompts) override
    {
        return m_inner.forward(hidden, lengths, prompts);
    }
    Result<SpanGradients> backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                   const std::vector<std::int64_t> &lengths,
                                   const DeepPrompts &prompts) override
    {
        if (m_kill)
            std::exchange(m_kill, {})();
        return m_inner.backward(hidden, gradOutput, lengths, prompts);
    }

private:
    TrainingBlocks &m_inner;
    std::function<void()> m_kill;
};

// Writes `text` to a new file at `path`; whether it all went there.
bool writeFile(const QString &path, const QByteArray &text)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(text) == text.size();
}

double relativeDifference(const at::Tensor &got, const at::Tensor &expected)
{
    return (got - expected).abs().max().item<double>() / expected.abs().max().item<double>();
}

} // namespace

class TestSwarmFinetune : public QObject {
    Q_OBJECT

    QTemporaryDir m_folder;

    QString modelFor(const QString &family) { return tinyTestModel(m_folder, family, 12); }

    StartedServer startServer(PeerProcesses &peers, const QString &model, const QString &blocks,
                              const QString &name)
    {
        const QStringList arguments =
            serveArguments(model, blocks, name, m_folder) + QStringList{QStringLiteral("--events")};
        return waitUntilServing(peers, peers.start(arguments), name);
    }

    // Three servers in a chain over the tiny model's four blocks.
    std::vector<StartedServer> startChain(PeerProcesses &peers, const QString &model)
    {
        return {startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("a")),
                startServer(peers, model, QStringLiteral("2:3"), QStringLiteral("b")),
                startServer(peers, model, QStringLiteral("3:4"), QStringLiteral("c"))};
    }

    // The model on this machine: config, client head, every block.
    struct Local {
        ModelConfig config;
        std::unique_ptr<ClientHead> head;
        std::unique_ptr<BlockSpan> blocks;
    };
    Local localModel(const QString &model)
    {
        Local local{*ModelConfig::load(model.toStdString()), nullptr, nullptr};
        auto checkpoint = Checkpoint::open(model.toStdString());
        auto head = ClientHead::load(local.config, **checkpoint, at::kFloat);
        auto blocks =
            BlockSpan::load(local.config, **checkpoint, 0, local.config.numLayers, at::kFloat);
        if (!head || !blocks)
            qFatal("the local model did not load");
        local.head = std::move(*head);
        local.blocks = std::move(*blocks);
        return local;
    }

    static TrainablePrompts promptsFor(const Local &local, PromptMethod method)
    {
        TrainablePrompts prompts =
            *TrainablePrompts::initial(local.config, *local.head, method, 3, 4);
        if (prompts.deep.defined()) {
            auto generator = at::make_generator<at::CPUGeneratorImpl>(8);
            prompts.deep.copy_(at::randn(prompts.deep.sizes(), generator) * 0.3);
        }
        return prompts;
    }

    // The gradients of `examples` with `prompts` through `blocks` (one chunk each).
    static PromptGradients gradientsThrough(const Local &local, TrainablePrompts &prompts,
                                            std::vector<TrainingBlocks *> blocks,
                                            const std::vector<TrainingExample> &examples)
    {
        auto trainer = PromptTrainer::create(*local.head, prompts, std::move(blocks), examples, {});
        if (!trainer)
            qFatal("%s", trainer.error().message.c_str());
        auto gradients = (*trainer)->gradients(pointers(examples));
        if (!gradients)
            qFatal("%s", gradients.error().message.c_str());
        return *gradients;
    }

    static void compareGradients(const PromptGradients &swarm, const PromptGradients &local)
    {
        QVERIFY(std::abs(swarm.lossSum - local.lossSum) <= 1e-5 * local.lossSum);
        QVERIFY2(relativeDifference(swarm.prefix, local.prefix) <= 1e-5,
                 qPrintable(QString::number(relativeDifference(swarm.prefix, local.prefix))));
        QCOMPARE(swarm.deep.defined(), local.deep.defined());
        if (local.deep.defined())
            QVERIFY2(relativeDifference(swarm.deep, local.deep) <= 1e-5,
                     qPrintable(QString::number(relativeDifference(swarm.deep, local.deep))));
    }

    QStringList finetuneArguments(const QString &model, const QString &data, const QString &out)
    {
        return {QStringLiteral("finetune"),
                QStringLiteral("--model"),
                model,
                QStringLiteral("--data"),
                data,
                QStringLiteral("--out"),
                out,
                QStringLiteral("--method"),
                QStringLiteral("deep_ptune"),
                QStringLiteral("--prefix-length"),
                QStringLiteral("8"),
                QStringLiteral("--steps"),
                QStringLiteral("150"),
                QStringLiteral("--batch-size"),
                QStringLiteral("3"),
                QStringLiteral("--lr"),
                QStringLiteral("0.1")};
    }

    // What `corolla generate` answers to `prompt`, stopping at the end token.
    QByteArray answer(PeerProcesses &peers, const QString &model, const QString &prompt,
                      const QStringList &extra)
    {
        const auto outcome =
            peers.runToEnd(QStringList{QStringLiteral("generate"), QStringLiteral("--model"), model,
                                       QStringLiteral("--prompt"), prompt,
                                       QStringLiteral("--max-new-tokens"), QStringLiteral("3")}
                           + extra);
        if (outcome.exitCode != 0)
            qWarning("%s", qPrintable(outcome.err));
        return outcome.out.trimmed();
    }

private Q_SLOTS:
    void promptGradientsEqualLocal_data()
    {
        QTest::addColumn<QString>("family");
        QTest::newRow("llama") << QStringLiteral("llama");
        QTest::newRow("bloom") << QStringLiteral("bloom");
    }

    void promptGradientsEqualLocal()
    {
        QFETCH(QString, family);
        const QString model = modelFor(family);
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const auto servers = startChain(peers, model);
        auto client = staticSwarmClient(model, servers);
        const Local local = localModel(model);
        const auto examples = scatteredExamples(local.config.vocabSize);

        for (PromptMethod method : {PromptMethod::PTune, PromptMethod::DeepPTune}) {
            TrainablePrompts prompts = promptsFor(local, method);
            LocalTrainingBlocks here(*local.blocks);
            const PromptGradients expected = gradientsThrough(local, prompts, {&here}, examples);
            // Two chunks at once, each on its own route through the three servers.
            RemoteTrainingBlocks first(*client, local.config.numLayers, {}),
                second(*client, local.config.numLayers, {});
            const PromptGradients swarm =
                gradientsThrough(local, prompts, {&first, &second}, examples);
            compareGradients(swarm, expected);
            QCOMPARE(first.lastRoute(), (std::vector<std::string>{"a", "b", "c"}));
            QCOMPARE(first.failovers() + second.failovers(), 0);
        }
    }

    void killedDuringBackwardChangesNothing()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        auto servers = startChain(peers, model);
        servers.push_back(startServer(peers, model, QStringLiteral("3:4"), QStringLiteral("d")));
        auto client = staticSwarmClient(model, servers);
        const Local local = localModel(model);
        const auto examples = scatteredExamples(local.config.vocabSize);
        TrainablePrompts prompts = promptsFor(local, PromptMethod::DeepPTune);
        LocalTrainingBlocks here(*local.blocks);
        const PromptGradients expected = gradientsThrough(local, prompts, {&here}, examples);

        // The last hop's server (c or d, whichever the route took) dies as backward begins:
        // its Backward call fails, the spare takes the block, the gradients are the same.
        RemoteTrainingBlocks remote(*client, local.config.numLayers,
                                    {.callTimeoutMs = 10000, .routeTimeoutMs = 10000});
        QString killed;
        KillingBlocks killing(remote, [&] {
            killed = QString::fromStdString(remote.lastRoute().back());
            peers.kill(servers[killed == QLatin1String("c") ? 2 : 3].process);
        });
        const PromptGradients swarm = gradientsThrough(local, prompts, {&killing}, examples);
        QVERIFY(killed == QLatin1String("c") || killed == QLatin1String("d"));
        compareGradients(swarm, expected);
        QCOMPARE(remote.failovers(), 1);
        QVERIFY(remote.lastRoute().back() != killed.toStdString());
    }

    void finetuneThroughTheSwarmTeachesAMapping()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        const QString data = m_folder.filePath(QStringLiteral("mapping.jsonl"));
        QVERIFY(writeFile(data, "{\"prompt\": \"a\", \"completion\": \"x\"}\n"
                                "{\"prompt\": \"b\", \"completion\": \"y\"}\n"
                                "{\"prompt\": \"c\", \"completion\": \"z\"}\n"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const auto servers = startChain(peers, model);
        const QStringList swarm = swarmArguments(writePeersFile(m_folder, servers));
        const QString out = m_folder.filePath(QStringLiteral("prompts"));

        QStringList before;
        for (const char *prompt : {"a", "b", "c"})
            before << QString::fromUtf8(answer(peers, model, QLatin1String(prompt), swarm));
        QVERIFY2(
            before != (QStringList{QStringLiteral("x"), QStringLiteral("y"), QStringLiteral("z")}),
            qPrintable(before.join(u',')));

        const auto trained = peers.runToEnd(finetuneArguments(model, data, out) + swarm);
        QVERIFY2(trained.exitCode == 0, qPrintable(trained.err));
        const auto summary = nlohmann::json::parse(trained.out.toStdString());
        QCOMPARE(summary["steps"].get<int>(), 150);
        QVERIFY2(summary["last_loss"].get<double>() < 0.3 * summary["first_loss"].get<double>(),
                 trained.out.constData());
        QVERIFY(summary["tokens_per_s"].get<double>() > 0);
        QCOMPARE(summary["failovers"].get<int>(), 0);
        QVERIFY(trained.err.contains(QLatin1String("step 150/150: loss")));
        for (const char *name : {"prompts.safetensors", "finetune.json", "loss.svg"})
            QVERIFY2(QFileInfo::exists(out + u'/' + QLatin1String(name)), name);
        QFile record(out + QStringLiteral("/finetune.json"));
        QVERIFY(record.open(QIODevice::ReadOnly));
        const auto json = nlohmann::json::parse(record.readAll().toStdString());
        QCOMPARE(json["method"].get<std::string>(), std::string("deep_ptune"));
        QCOMPARE(json["prefix_length"].get<int>(), 8);
        QCOMPARE(json["losses"].size(), std::size_t(150));
        QCOMPARE(json["model"].get<std::string>(), *modelIdForDirectory(model.toStdString()));

        // Through the swarm (the servers add the deep prompts inside the sessions) and on
        // this machine alike, the prompts make the model answer as taught.
        const QStringList withPrompts{QStringLiteral("--prompts"), out};
        const char *const taught[][2] = {{"a", "x"}, {"b", "y"}, {"c", "z"}};
        for (const auto &[prompt, completion] : taught) {
            QCOMPARE(answer(peers, model, QLatin1String(prompt), withPrompts + swarm),
                     QByteArray(completion));
            QCOMPARE(answer(peers, model, QLatin1String(prompt), withPrompts),
                     QByteArray(completion));
        }

        // The OpenAI-compatible API with the prompts, through the swarm.
        QProcess *api = peers.start(QStringList{QStringLiteral("api"), QStringLiteral("--model"),
                                                model, QStringLiteral("--dtype"),
                                                QStringLiteral("fp32"), QStringLiteral("--port"),
                                                QStringLiteral("0"), QStringLiteral("--events")}
                                    + withPrompts + swarm);
        const nlohmann::json listening = peers.waitForEvent(api, "listening");
        QVERIFY2(!listening.empty(), qPrintable(peers.log(api)));
        const quint16 port = listening["port"].get<quint16>();
        const auto models = nlohmann::json::parse(
            httpExchange(port, "GET", "/v1/models").body.toStdString(), nullptr, false);
        QVERIFY(models.is_object() && !models["data"].empty());
        const nlohmann::json request{{"model", models["data"][0]["id"]},
                                     {"prompt", "b"},
                                     {"max_tokens", 3},
                                     {"temperature", 0}};
        const HttpAnswer completion = httpExchange(port, "POST", "/v1/completions",
                                                   QByteArray::fromStdString(request.dump()));
        QCOMPARE(completion.status, 200);
        const auto body = nlohmann::json::parse(completion.body.toStdString(), nullptr, false);
        QVERIFY2(body.is_object() && body["choices"][0]["text"] == "y",
                 completion.body.constData());
    }

    void badDataAndPromptsAreRefused()
    {
        const QString llama = modelFor(QStringLiteral("llama"));
        const QString bloom = modelFor(QStringLiteral("bloom"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const QString data = m_folder.filePath(QStringLiteral("bad.jsonl"));
        QVERIFY(writeFile(data, "{\"text\": \"fine\"}\n{\"prompt\": \"no completion\"}\n"));
        const QString out = m_folder.filePath(QStringLiteral("bad-out"));
        auto refused = peers.runToEnd(finetuneArguments(llama, data, out));
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(
            refused.err.contains(QLatin1String("bad.jsonl:2: \"completion\" must be a string")),
            qPrintable(refused.err));
        QVERIFY(!QFileInfo::exists(out + QStringLiteral("/prompts.safetensors")));

        QStringList badMethod = finetuneArguments(llama, data, out);
        badMethod[badMethod.indexOf(QStringLiteral("deep_ptune"))] = QStringLiteral("lora");
        refused = peers.runToEnd(badMethod);
        QCOMPARE(refused.exitCode, 2);
        QVERIFY2(refused.err.contains(QLatin1String("unknown tuning method 'lora'")),
                 qPrintable(refused.err));

        // Prompts of one model are refused by another, and a folder without prompts too.
        const QString good = m_folder.filePath(QStringLiteral("good.jsonl"));
        QVERIFY(writeFile(good, "{\"text\": \"hello\"}\n"));
        const QString prompts = m_folder.filePath(QStringLiteral("bloom-prompts"));
        QStringList oneStep = finetuneArguments(bloom, good, prompts);
        oneStep[oneStep.indexOf(QStringLiteral("150"))] = QStringLiteral("1");
        QCOMPARE(peers.runToEnd(oneStep).exitCode, 0);
        for (const QString &folder : {prompts, m_folder.filePath(QStringLiteral("nowhere"))}) {
            const auto outcome =
                peers.runToEnd({QStringLiteral("generate"), QStringLiteral("--model"), llama,
                                QStringLiteral("--prompt"), QStringLiteral("a"),
                                QStringLiteral("--prompts"), folder});
            QCOMPARE(outcome.exitCode, 1);
            QVERIFY2(outcome.err.contains(folder == prompts
                                              ? QLatin1String("was trained for the model bloom@")
                                              : QLatin1String("prompts.safetensors")),
                     qPrintable(outcome.err));
            QVERIFY(outcome.out.isEmpty());
        }
    }
};

QTEST_GUILESS_MAIN(TestSwarmFinetune)
#include "testswarmfinetune.moc"
