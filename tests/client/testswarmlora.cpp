// LoRA adapters served by real server processes on 127.0.0.1: a forward pass and generation
// through servers that serve an adapter equal the model with the adapter merged into its
// weights, W + (alpha / r) B A; only servers that announce the adapter are used; an adapter
// no server holds fails clearly; a Hub adapter is fetched and announced by its name; a
// malformed adapter stops `serve` with the reason.

#include <QtTest>

#include <ATen/ATen.h>

#include "client/remoteforward.h"
#include "client/staticswarmclient.h"
#include "client/swarmarguments.h"
#include "client/tinytestmodel.h"
#include "hub/testhubserver.h"
#include "loader/checkpoint.h"
#include "loader/safetensorswriter.h"
#include "model/blockspan.h"
#include "swarm/modelidentity.h"
#include "swarm/staticregistry.h"
#include "testmodel/testadapter.h"
#include "tools/peerprocesses.h"

using namespace corolla;
using namespace corolla::swarmtest;

namespace {

constexpr std::uint64_t kSeed = 14;
const TestAdapterSpec kAdapter{.rank = 4, .alpha = 8, .seed = 5};

} // namespace

class TestSwarmLora : public QObject {
    Q_OBJECT

    QTemporaryDir m_folder;

    QString modelFor(const QString &family) { return tinyTestModel(m_folder, family, kSeed); }

    // The adapter of `family`'s test model, in a folder named `name`.
    QString adapterFor(const QString &family, const QString &name)
    {
        const QString path = m_folder.filePath(family + u'-' + name);
        const ModelConfig config = *ModelConfig::load(modelFor(family).toStdString());
        if (auto written = writeTestAdapter(path.toStdString(), config, kAdapter); !written)
            qFatal("%s", written.error().message.c_str());
        return path;
    }

    // The test model with the adapter merged into its weights.
    QString mergedFor(const QString &family)
    {
        const QString path = m_folder.filePath(family + QStringLiteral("-merged"));
        if (QFileInfo::exists(path))
            return path;
        const TestModelSpec spec{family.toStdString(), "tiny", at::kFloat, kSeed};
        if (!writeTestModel(path.toStdString(), spec, 1))
            qFatal("cannot write the merged model");
        const ModelConfig config = *ModelConfig::load(path.toStdString());
        const auto merged =
            mergeTestAdapter(makeTestWeights(config, kSeed, at::kFloat), config, kAdapter);
        if (!writeCheckpointWeights(path.toStdString(), merged, 1))
            qFatal("cannot write the merged weights");
        return path;
    }

    StartedServer startServer(PeerProcesses &peers, const QString &model, const QString &blocks,
                              const QString &name, const QStringList &adapters)
    {
        QStringList arguments =
            serveArguments(model, blocks, name, m_folder) + QStringList{QStringLiteral("--events")};
        for (const QString &adapter : adapters)
            arguments << QStringLiteral("--adapters") << adapter;
        return waitUntilServing(peers, peers.start(arguments), name);
    }

    QStringList generate(const QString &model, const QStringList &extra)
    {
        return QStringList{QStringLiteral("generate"),
                           QStringLiteral("--model"),
                           model,
                           QStringLiteral("--ids"),
                           QStringLiteral("1,5,9,13"),
                           QStringLiteral("--max-new-tokens"),
                           QStringLiteral("16"),
                           QStringLiteral("--events")}
               + extra;
    }

private Q_SLOTS:
    void adapterThroughTheSwarmEqualsMergedWeights_data()
    {
        QTest::addColumn<QString>("family");
        QTest::newRow("llama") << QStringLiteral("llama");
        QTest::newRow("bloom") << QStringLiteral("bloom");
    }

    void adapterThroughTheSwarmEqualsMergedWeights()
    {
        QFETCH(QString, family);
        const QString model = modelFor(family);
        const QString adapter = adapterFor(family, QStringLiteral("style"));
        const QString merged = mergedFor(family);
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:2"), QStringLiteral("a"), {adapter}),
            startServer(peers, model, QStringLiteral("2:3"), QStringLiteral("b"), {adapter}),
            startServer(peers, model, QStringLiteral("3:4"), QStringLiteral("c"), {adapter})};

        // Forward through the three servers with the adapter, in fp32 on the wire.
        const auto client = staticSwarmClient(model, servers);
        const ModelConfig config = *ModelConfig::load(model.toStdString());
        QCOMPARE(client->candidates(config.numLayers, "family-style").size(), std::size_t(0));
        QCOMPARE(
            client->candidates(config.numLayers, (family + QStringLiteral("-style")).toStdString())
                .size(),
            std::size_t(3));
        RemoteForward remote(*client, config.numLayers,
                             {.adapter = (family + QStringLiteral("-style")).toStdString()});
        auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
        const at::Tensor x = at::randn({2, 5, config.hiddenSize}, generator);
        const std::vector<std::int64_t> lengths{5, 3};
        auto output = remote.forward(x, lengths);
        QVERIFY2(output, output ? "" : output.error().message.c_str());
        auto checkpoint = Checkpoint::open(merged.toStdString());
        const auto reference =
            BlockSpan::load(config, **checkpoint, 0, config.numLayers, at::kFloat);
        const at::Tensor expected = *(*reference)->forward(x, lengths);
        const double difference = (*output - expected).narrow(1, 0, 3).abs().max().item<double>();
        QVERIFY2(difference <= 1e-5 * expected.abs().max().item<double>(),
                 qPrintable(QString::number(difference)));
        QCOMPARE(remote.lastRoute(), (std::vector<std::string>{"a", "b", "c"}));

        // Generation: through the swarm with the adapter, on this machine with the adapter
        // folder, and on the merged model, token for token; without the adapter, another text.
        const auto [mergedCode, fromMerged] = peers.run(generate(merged, {}));
        QCOMPARE(mergedCode, 0);
        const QStringList swarm = swarmArguments(writePeersFile(m_folder, servers));
        const auto [swarmCode, throughSwarm] =
            peers.run(generate(model, QStringList{QStringLiteral("--adapter"), adapter} + swarm));
        QVERIFY2(swarmCode == 0, qPrintable(peers.logs()));
        QCOMPARE(throughSwarm, fromMerged);
        const auto [localCode, local] =
            peers.run(generate(model, {QStringLiteral("--adapter"), adapter}));
        QCOMPARE(localCode, 0);
        QCOMPARE(local, fromMerged);
        const auto [plainCode, plain] = peers.run(generate(model, swarm));
        QCOMPARE(plainCode, 0);
        QVERIFY(plain != fromMerged);
    }

    void onlyServersOfTheAdapterAreUsed()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        const QString adapter = adapterFor(QStringLiteral("llama"), QStringLiteral("style"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const std::vector<StartedServer> servers{
            startServer(peers, model, QStringLiteral("0:4"), QStringLiteral("plain"), {}),
            startServer(peers, model, QStringLiteral("0:4"), QStringLiteral("adapted"), {adapter})};
        const QStringList swarm = swarmArguments(writePeersFile(m_folder, servers));
        QProcess *client = peers.start(
            generate(model, QStringList{QStringLiteral("--adapter"), QStringLiteral("llama-style")}
                                + swarm));
        QVERIFY(client->waitForFinished(60000));
        QVERIFY2(client->exitCode() == 0, qPrintable(peers.log(client)));
        QCOMPARE(hopNames(peers.lastEvent(client, "finished")),
                 QStringList{QStringLiteral("adapted")});

        // An adapter no server serves: a clear error after the route timeout, no output.
        QStringList missing = generate(
            model, QStringList{QStringLiteral("--adapter"), QStringLiteral("org/absent")} + swarm);
        missing[missing.indexOf(QStringLiteral("--route-timeout")) + 1] = QStringLiteral("1");
        const auto outcome = peers.runToEnd(missing);
        QCOMPARE(outcome.exitCode, 1);
        QVERIFY2(outcome.err.contains(QLatin1String("with the adapter 'org/absent'")),
                 qPrintable(outcome.err));
        QVERIFY(outcome.out.trimmed().isEmpty());
    }

    // A Hub adapter ORG/NAME: fetched into the cache (its two files), announced by that name,
    // and the same model as the merged weights, here and through the swarm.
    void hubAdaptersAreFetchedAndNamed()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        const QString adapter = adapterFor(QStringLiteral("llama"), QStringLiteral("hub"));
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        testing::TestHubServer hub(
            peers, QStringLiteral(COROLLA_TESTHUB),
            {QStringLiteral("--repo"), QStringLiteral("acme/style=") + adapter});
        QVERIFY(hub.isRunning());
        peers.setEnvironment(QStringLiteral("HF_ENDPOINT"), hub.url());
        peers.setEnvironment(QStringLiteral("HF_TOKEN"), {});
        peers.setEnvironment(QStringLiteral("HF_HUB_OFFLINE"), {});
        peers.setEnvironment(QStringLiteral("HF_HOME"),
                             m_folder.filePath(QStringLiteral("hfhome")));
        const QStringList byName{QStringLiteral("--adapter"), QStringLiteral("acme/style")};
        const auto [mergedCode, fromMerged] =
            peers.run(generate(mergedFor(QStringLiteral("llama")), {}));
        QCOMPARE(mergedCode, 0);
        const auto local = peers.runToEnd(generate(model, byName));
        QVERIFY2(local.exitCode == 0, qPrintable(local.err));
        QCOMPARE(local.out, fromMerged);

        const std::vector<StartedServer> servers{startServer(peers, model, QStringLiteral("0:4"),
                                                             QStringLiteral("hubbed"),
                                                             {QStringLiteral("acme/style")})};
        const QString peersFile = writePeersFile(m_folder, servers);
        const auto listing =
            peers.runToEnd({QStringLiteral("swarm"), QStringLiteral("--model"), model,
                            QStringLiteral("--static-peers"), peersFile, QStringLiteral("--json"),
                            QStringLiteral("--wait"), QStringLiteral("2")});
        const auto json = nlohmann::json::parse(listing.out.toStdString(), nullptr, false);
        QVERIFY2(json.is_object() && json["servers"].size() == 1, listing.out.constData());
        QCOMPARE(json["servers"][0]["adapters"], nlohmann::json::array({"acme/style"}));
        const auto swarm = peers.runToEnd(generate(model, byName + swarmArguments(peersFile)));
        QVERIFY2(swarm.exitCode == 0, qPrintable(swarm.err));
        QCOMPARE(swarm.out, fromMerged);
    }

    void malformedAdaptersAreRefused()
    {
        const QString model = modelFor(QStringLiteral("llama"));
        const QString adapter = adapterFor(QStringLiteral("llama"), QStringLiteral("dora"));
        QFile config(adapter + QStringLiteral("/adapter_config.json"));
        QVERIFY(config.open(QIODevice::WriteOnly | QIODevice::Truncate));
        config.write("{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"use_dora\": true}");
        config.close();
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const auto served = peers.runToEnd(
            serveArguments(model, QStringLiteral("0:4"), QStringLiteral("bad"), m_folder)
            + QStringList{QStringLiteral("--adapters"), adapter});
        QVERIFY(served.exitCode != 0);
        QVERIFY2(served.err.contains(QLatin1String("DoRA adapters (use_dora) are not supported")),
                 qPrintable(served.err));
        const auto generated =
            peers.runToEnd(generate(model, {QStringLiteral("--adapter"), adapter}));
        QCOMPARE(generated.exitCode, 1);
        QVERIFY2(generated.err.contains(QLatin1String("use_dora")), qPrintable(generated.err));
        const auto nowhere = peers.runToEnd(
            serveArguments(model, QStringLiteral("0:4"), QStringLiteral("none"), m_folder)
            + QStringList{QStringLiteral("--adapters"),
                          m_folder.filePath(QStringLiteral("nowhere"))});
        QVERIFY(nowhere.exitCode != 0);
        QVERIFY2(nowhere.err.contains(QLatin1String("no such folder")), qPrintable(nowhere.err));
    }
};

QTEST_GUILESS_MAIN(TestSwarmLora)
#include "testswarmlora.moc"
