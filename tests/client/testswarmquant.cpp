// A swarm whose servers hold their blocks in different formats (int8, nf4, unpacked) against
// the same mixed model run on this machine, the formats shown by `corolla swarm`, and a model
// that nf4 cannot pack refused by `corolla serve` with a clear message.

#include <QtTest>

#include <ATen/ATen.h>

#include "client/swarmarguments.h"
#include "loader/checkpoint.h"
#include "model/blockspan.h"
#include "model/clienthead.h"
#include "testmodel/testmodel.h"
#include "tools/peerprocesses.h"

using namespace corolla;
using namespace corolla::swarmtest;

namespace {

struct MixedSpan {
    const char *blocks; // "A:B"
    std::int64_t begin, end;
    Quantization quantization;
    const char *name;
};

// Blocks 0, 1-2 and 3 of the 4-block test model, each in its own format.
const MixedSpan kMixedSwarm[] = {
    {"0:1", 0, 1, Quantization::Int8, "packed-int8"},
    {"1:3", 1, 3, Quantization::Nf4, "packed-nf4"},
    {"3:4", 3, 4, Quantization::None, "unpacked"},
};

const std::vector<std::int64_t> kPrompt{1, 5, 9, 13};
constexpr int kNewTokens = 16;

// Greedy decoding through the spans in turn, each with its own cache: the mixed model on
// this machine.
std::vector<std::int64_t> generateLocally(const ClientHead &head,
                                          const std::vector<std::unique_ptr<BlockSpan>> &spans)
{
    c10::InferenceMode inference;
    std::vector<KvCache> caches;
    for (const auto &span : spans)
        caches.push_back(span->makeCache(1, std::int64_t(kPrompt.size()) + kNewTokens));
    std::vector<std::int64_t> generated;
    at::Tensor ids = at::tensor(kPrompt, at::kLong).view({1, -1});
    for (int step = 0; step < kNewTokens; ++step) {
        at::Tensor hidden = *head.embed(ids);
        for (std::size_t i = 0; i < spans.size(); ++i)
            hidden = *spans[i]->step(hidden, caches[i], {ids.size(1)});
        const std::int64_t next =
            head.logits(hidden.select(1, ids.size(1) - 1)).argmax(-1).item<std::int64_t>();
        generated.push_back(next);
        ids = at::tensor(std::vector<std::int64_t>{next}, at::kLong).view({1, 1});
    }
    return generated;
}

std::vector<std::int64_t> parseIds(const QByteArray &text)
{
    std::vector<std::int64_t> ids;
    for (const QByteArray &word : text.trimmed().split(' '))
        ids.push_back(word.toLongLong());
    return ids;
}

} // namespace

class TestSwarmQuant : public QObject {
    Q_OBJECT

    QTemporaryDir m_folder;

    QString writeModel(const QString &name, const std::string &shape)
    {
        const QString path = m_folder.filePath(name);
        auto written = writeTestModel(path.toStdString(), {"llama", shape, at::kFloat, 5}, 1);
        if (!written)
            qFatal("%s", written.error().message.c_str());
        return path;
    }

    StartedServer startServer(PeerProcesses &peers, const QString &model, const MixedSpan &span)
    {
        const QString name = QString::fromLatin1(span.name);
        return waitUntilServing(
            peers,
            peers.start(serveArguments(model, QString::fromLatin1(span.blocks), name, m_folder)
                        + QStringList{QStringLiteral("--quant"),
                                      QString::fromLatin1(quantizationName(span.quantization)),
                                      QStringLiteral("--events")}),
            name);
    }

private Q_SLOTS:
    void mixedSwarmEqualsTheLocalMixedModel()
    {
        const QString model = writeModel(QStringLiteral("tiny"), "tiny");
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        std::vector<StartedServer> servers;
        for (const MixedSpan &span : kMixedSwarm)
            servers.push_back(startServer(peers, model, span));
        const QString peers_ = writePeersFile(m_folder, servers);

        // The swarm listing names each server's format.
        const auto [listCode, listing] =
            peers.run({QStringLiteral("swarm"), QStringLiteral("--model"), model,
                       QStringLiteral("--static-peers"), peers_, QStringLiteral("--json"),
                       QStringLiteral("--wait"), QStringLiteral("3")});
        QVERIFY2(listCode == 0, listing.constData());
        std::map<std::string, std::string> formats;
        const nlohmann::json swarmListing = nlohmann::json::parse(listing.toStdString());
        for (const nlohmann::json &server : swarmListing["servers"])
            formats[server["public_name"]] = server["quantization"];
        QVERIFY2(formats.size() == std::size(kMixedSwarm), listing.constData());
        for (const MixedSpan &span : kMixedSwarm)
            QCOMPARE(formats[span.name], std::string(quantizationName(span.quantization)));

        const QStringList generate{QStringLiteral("generate"),
                                   QStringLiteral("--model"),
                                   model,
                                   QStringLiteral("--ids"),
                                   QStringLiteral("1,5,9,13"),
                                   QStringLiteral("--max-new-tokens"),
                                   QString::number(kNewTokens),
                                   QStringLiteral("--temperature"),
                                   QStringLiteral("0"),
                                   QStringLiteral("--dtype"),
                                   QStringLiteral("fp32")};
        const auto [swarmCode, swarm] = peers.run(generate + swarmArguments(peers_));
        QVERIFY2(swarmCode == 0, qPrintable(peers.logs()));

        const ModelConfig config = *ModelConfig::load(model.toStdString());
        auto checkpoint = Checkpoint::open(model.toStdString());
        QVERIFY(checkpoint);
        auto head = ClientHead::open(model.toStdString(), config, at::kFloat);
        QVERIFY(head);
        std::vector<std::unique_ptr<BlockSpan>> spans;
        for (const MixedSpan &span : kMixedSwarm) {
            auto loaded = BlockSpan::load(config, **checkpoint, span.begin, span.end, at::kFloat,
                                          span.quantization);
            QVERIFY(loaded);
            spans.push_back(std::move(*loaded));
        }
        const std::vector<std::int64_t> local = generateLocally(**head, spans);
        QCOMPARE(parseIds(swarm), local);

        // The formats matter: the same prompt through unpacked blocks answers otherwise.
        const auto [plainCode, plain] = peers.run(generate);
        QCOMPARE(plainCode, 0);
        QVERIFY(parseIds(plain) != local);
    }

    // The demo shape's MLP rows hold 688 values, no multiple of 64: nf4 is refused before
    // anything is announced, int8 serves.
    void serveRefusesAModelNf4CannotPack()
    {
        const QString model = writeModel(QStringLiteral("demo"), "demo");
        PeerProcesses peers(QStringLiteral(COROLLA_BINARY));
        const QStringList serve =
            serveArguments(model, QStringLiteral("0:1"), QStringLiteral("misfit"), m_folder);
        QProcess *nf4 =
            peers.start(serve + QStringList{QStringLiteral("--quant"), QStringLiteral("nf4")});
        QVERIFY(nf4->waitForFinished(60000));
        QCOMPARE(nf4->exitCode(), 1);
        QVERIFY2(peers.log(nf4).contains(QLatin1String("mlp.down_proj.weight rows hold 688"))
                     && peers.log(nf4).contains(QLatin1String("int8 packs any width")),
                 qPrintable(peers.log(nf4)));

        QProcess *int8 =
            peers.start(serve
                        + QStringList{QStringLiteral("--quant"), QStringLiteral("int8"),
                                      QStringLiteral("--events")});
        QVERIFY2(!peers.waitForEvent(int8, "serving").empty(), qPrintable(peers.log(int8)));

        QProcess *unknown =
            peers.start(serve + QStringList{QStringLiteral("--quant"), QStringLiteral("int4")});
        QVERIFY(unknown->waitForFinished(60000));
        QCOMPARE(unknown->exitCode(), 2);
        QVERIFY2(peers.log(unknown).contains(
                     QLatin1String("unknown quantization 'int4' (choose none, int8 or nf4)")),
                 qPrintable(peers.log(unknown)));
    }
};

QTEST_GUILESS_MAIN(TestSwarmQuant)
#include "testswarmquant.moc"
