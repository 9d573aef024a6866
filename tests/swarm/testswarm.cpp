// Server records (signatures, forgeries, expiry, ranges), the merged swarm state, block
// choice (Petals' rule and the re-balancing check) and the memory plan.

#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/bytesize.h"
#include "loader/tensorsource.h"
#include "model/blockspan.h"
#include "net/identity.h"
#include "server/blockchoice.h"
#include "server/memoryplan.h"
#include "swarm/modelidentity.h"
#include "swarm/serverrecord.h"
#include "swarm/swarmstate.h"
#include "swarm/swarmwatcher.h"
#include "testmodel/testmodel.h"
#include "tools/samplerecord.h"

using namespace corolla;

namespace {

proto::ServerRecord sampleRecord(const PeerIdentity &identity, std::int64_t now)
{
    return sampleServerRecord(identity.peerId(), now);
}

// Re-signs the serialized SignedRecord after `edit` changes its body, with `signer`.
QByteArray signedWith(const proto::ServerRecord &record, const PeerIdentity &signer)
{
    return signRecord(record, signer);
}

PlacedServer placed(const std::string &id, std::int64_t start, std::int64_t end,
                    double throughput = 1.0)
{
    return {id, start, end, throughput};
}

// A registry that hands over whatever bytes the test gives it.
class ScriptedRegistry : public Registry {
public:
    QString name() const override { return QStringLiteral("scripted"); }
    void announce(const QByteArray &signedRecord, const proto::ServerRecord &) override
    {
        announced.append(signedRecord);
    }
    void lookup(const std::string &) override { Q_EMIT recordsFound(found); }

    QList<QByteArray> found;
    QList<QByteArray> announced;
};

} // namespace

class TestSwarm : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void genuineRecordVerifies()
    {
        auto identity = PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        const proto::ServerRecord record = sampleRecord(*identity, now);
        auto verified = verifyRecord(signRecord(record, *identity), now);
        QVERIFY2(verified, verified ? "" : verified.error().message.c_str());
        QCOMPARE(verified->SerializeAsString(), record.SerializeAsString());
    }

    void forgedRecordsAreRejected()
    {
        auto alice = PeerIdentity::generate();
        auto mallory = PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        const QByteArray genuine = signRecord(sampleRecord(*alice, now), *alice);

        // A changed body under the old signature.
        proto::SignedRecord tampered;
        QVERIFY(tampered.ParseFromArray(genuine.constData(), int(genuine.size())));
        proto::ServerRecord body;
        body.ParseFromString(tampered.record());
        body.set_start(0);
        tampered.set_record(body.SerializeAsString());
        auto result = verifyRecord(QByteArray::fromStdString(tampered.SerializeAsString()), now);
        QVERIFY(!result);
        QVERIFY(
            QString::fromStdString(result.error().message).contains(QLatin1String("signature")));

        // Mallory signs a record that claims to be Alice.
        result = verifyRecord(signedWith(sampleRecord(*alice, now), *mallory), now);
        QVERIFY(!result);
        QVERIFY(QString::fromStdString(result.error().message)
                    .contains(QLatin1String("does not belong")));

        // Garbage and truncation.
        QVERIFY(!verifyRecord(QByteArray("\x0a\xff\xff\xff\x0f garbage"), now));
        QVERIFY(!verifyRecord(genuine.left(genuine.size() / 2), now));
        QVERIFY(!verifyRecord(QByteArray(kMaxRecordBytes + 1, 'x'), now));
    }

    void expiredAndOutOfRangeRecordsAreRejected()
    {
        auto identity = PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        auto check = [&](auto edit, const char *expected) {
            proto::ServerRecord record = sampleRecord(*identity, now);
            edit(record);
            auto result = verifyRecord(signRecord(record, *identity), now);
            QVERIFY2(!result, expected);
            QVERIFY2(
                QString::fromStdString(result.error().message).contains(QLatin1String(expected)),
                result.error().message.c_str());
        };
        check([&](auto &r) { r.set_expires_at_ms(now - 1); }, "expired");
        check([&](auto &r) { r.set_expires_at_ms(now + 10 * kMaxRecordLifetimeMs); }, "lifetime");
        check([&](auto &r) { r.set_announced_at_ms(now + 3600 * 1000); }, "announcement");
        // Hostile times must not overflow the lifetime's subtraction (UBSan would stop here).
        check(
            [&](auto &r) {
                r.set_announced_at_ms(INT64_MIN);
                r.set_expires_at_ms(INT64_MAX);
            },
            "announcement");
        check([](auto &r) { r.set_end(9); }, "not inside");
        check([](auto &r) { r.set_start(6); }, "not inside");
        check([](auto &r) { r.set_throughput(NAN); }, "finite");
        check([](auto &r) { r.set_inference_rps(-1.0); }, "non-negative");
        check([](auto &r) { r.set_num_blocks(0); }, "number of blocks");
        check([](auto &r) { r.set_model_id(""); }, "model id");
        check([](auto &r) { r.set_public_name(std::string(1000, 'n')); }, "oversized");
        check([](auto &r) { r.set_state(proto::ServerState(9)); }, "state");
        check(
            [](auto &r) {
                for (int i = 0; i < 20; ++i)
                    r.add_addresses("10.0.0.1:1");
            },
            "addresses");
    }

    void swarmStateKeepsNewestAndDropsExpired()
    {
        auto a = PeerIdentity::generate();
        auto b = PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        SwarmState state;
        proto::ServerRecord first = sampleRecord(*a, now - 1000);
        proto::ServerRecord newer = sampleRecord(*a, now);
        newer.set_start(0);
        newer.set_end(4);
        state.insert(newer);
        state.insert(first); // arrives late: ignored
        proto::ServerRecord other = sampleRecord(*b, now);
        other.set_start(4);
        other.set_end(8);
        other.set_throughput(5.0);
        other.set_expires_at_ms(now + 100);
        state.insert(other);

        const auto servers = state.servers(first.model_id());
        QCOMPARE(servers.size(), std::size_t(2));
        QCOMPARE(servers[0].start(), std::int64_t(0));
        QCOMPARE(state.blockThroughput(first.model_id(), 8),
                 (std::vector<double>{10, 10, 10, 10, 5, 5, 5, 5}));
        QCOMPARE(state.blockThroughput(first.model_id(), 8, a->peerId()),
                 (std::vector<double>{0, 0, 0, 0, 5, 5, 5, 5}));

        const nlohmann::json json = state.toJson(first.model_id(), 8);
        QCOMPARE(json["num_blocks"].get<int>(), 8);
        QCOMPARE(json["servers"].size(), std::size_t(2));
        for (const char *field :
             {"peer_id", "public_name", "addresses", "start", "end", "state", "throughput",
              "inference_rps", "forward_rps", "cache_tokens_left", "version"})
            QVERIFY2(json["servers"][0].contains(field), field);

        state.prune(now + 200);
        QCOMPARE(state.servers(first.model_id()).size(), std::size_t(1));

        proto::ServerRecord offline = sampleRecord(*a, now + 1);
        offline.set_state(proto::STATE_OFFLINE);
        state.insert(offline);
        QCOMPARE(state.servers(first.model_id()).size(), std::size_t(0));
        QCOMPARE(state.records(first.model_id()).size(), std::size_t(1));
    }

    void watcherIgnoresForgedAndExpiredRecords()
    {
        auto alice = PeerIdentity::generate();
        auto bob = PeerIdentity::generate();
        auto mallory = PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        const proto::ServerRecord aliceRecord = sampleRecord(*alice, now);
        proto::ServerRecord stale = sampleRecord(*bob, now - 120000);
        stale.set_expires_at_ms(now - 1000);
        proto::ServerRecord otherModel = sampleRecord(*bob, now);
        otherModel.set_model_id("another@model");

        auto registry = std::make_unique<ScriptedRegistry>();
        ScriptedRegistry *scripted = registry.get();
        scripted->found = {signRecord(aliceRecord, *alice),
                           signRecord(sampleRecord(*bob, now), *mallory),        // forged
                           signRecord(stale, *bob),                              // expired
                           QByteArray("garbage"), signRecord(otherModel, *bob)}; // not this model
        SwarmWatcher watcher(aliceRecord.model_id());
        watcher.addRegistry(std::move(registry));
        watcher.refresh();
        const auto servers = watcher.state().servers(aliceRecord.model_id());
        QCOMPARE(servers.size(), std::size_t(1));
        QCOMPARE(servers[0].peer_id(), alice->peerId());
        QCOMPARE(watcher.rejectedRecords(), 3);

        // Publishing signs with the peer's key and goes through every registry.
        proto::ServerRecord own = sampleRecord(*bob, now);
        watcher.publish(own, *bob);
        QCOMPARE(scripted->announced.size(), 1);
        QVERIFY(verifyRecord(scripted->announced.front(), now));
        QCOMPARE(watcher.state().servers(own.model_id()).size(), std::size_t(2));
    }

    void modelIdsFollowConfigAndWeightsNotTheFolder()
    {
        QTemporaryDir dir;
        auto make = [&](const QString &folder, std::uint64_t seed, int shards,
                        const std::string &shape = "tiny") {
            TestModelSpec spec;
            spec.shape = shape;
            spec.seed = seed;
            QVERIFY(writeTestModel(dir.filePath(folder).toStdString(), spec, shards));
        };
        make(QStringLiteral("TinyLlama"), 1, 1);
        make(QStringLiteral("snapshots/fe8a4ea1ffedaf415f4da2f062534de366a451e6"), 1, 1);
        make(QStringLiteral("other-seed"), 2, 1);
        make(QStringLiteral("sharded"), 1, 3);
        make(QStringLiteral("other-shape"), 1, 1, "demo");
        auto id = [&](const QString &folder) {
            return modelIdForDirectory(dir.filePath(folder).toStdString());
        };
        const auto a = id(QStringLiteral("TinyLlama"));
        const auto b = id(QStringLiteral("snapshots/fe8a4ea1ffedaf415f4da2f062534de366a451e6"));
        const auto seed = id(QStringLiteral("other-seed"));
        const auto sharded = id(QStringLiteral("sharded"));
        const auto shape = id(QStringLiteral("other-shape"));
        QVERIFY(a && b && seed && sharded && shape);
        QCOMPARE(*a, *b);     // the folder's name and place do not matter
        QVERIFY(*a != *seed); // same config.json, other weights
        QVERIFY(*a != *shape);
        QVERIFY(*a != *sharded); // other files
        QVERIFY(QString::fromStdString(*a).startsWith(QLatin1String("llama@")));
        QCOMPARE(a->size(), std::size_t(6 + 16));

        // One changed weight deep inside a tensor changes the id; the config alone is the same.
        QFile config1(dir.filePath(QStringLiteral("TinyLlama/config.json")));
        QFile config2(dir.filePath(QStringLiteral("other-seed/config.json")));
        QVERIFY(config1.open(QIODevice::ReadOnly) && config2.open(QIODevice::ReadOnly));
        QCOMPARE(config1.readAll(), config2.readAll());
        {
            QFile weights(dir.filePath(QStringLiteral(
                "snapshots/fe8a4ea1ffedaf415f4da2f062534de366a451e6/model.safetensors")));
            QVERIFY(weights.open(QIODevice::ReadWrite));
            QVERIFY(weights.seek(weights.size() - 2));
            const QByteArray last = weights.read(2);
            QVERIFY(weights.seek(weights.size() - 2));
            weights.write(QByteArray(2, char(last[0] ^ 0x55)));
        }
        const auto changed =
            id(QStringLiteral("snapshots/fe8a4ea1ffedaf415f4da2f062534de366a451e6"));
        QVERIFY(changed && *changed != *a);

        // Missing or broken files are errors that name them.
        QVERIFY(!id(QStringLiteral("missing")));
        QVERIFY(QFile::remove(
            dir.filePath(QStringLiteral("sharded/model-00002-of-00003.safetensors"))));
        const auto noShard = id(QStringLiteral("sharded"));
        QVERIFY(!noShard);
        QVERIFY2(noShard.error().message.find("model-00002-of-00003.safetensors")
                     != std::string::npos,
                 noShard.error().message.c_str());
        {
            QFile weights(dir.filePath(QStringLiteral("TinyLlama/model.safetensors")));
            QVERIFY(weights.open(QIODevice::WriteOnly | QIODevice::Truncate));
            weights.write("\xff\xff\xff\xff\xff\xff\xff\x7f{}");
        }
        const auto broken = id(QStringLiteral("TinyLlama"));
        QVERIFY(!broken);
        QVERIFY2(broken.error().message.find("header size") != std::string::npos,
                 broken.error().message.c_str());
    }

    void spanChoiceCoversTheWeakestBlocks()
    {
        QCOMPARE(chooseSpanStart({0, 0, 0, 0, 0, 0}, 3), std::int64_t(0));
        QCOMPARE(chooseSpanStart({5, 5, 5, 0, 0, 0}, 3), std::int64_t(3));
        QCOMPARE(chooseSpanStart({5, 5, 0, 0, 5, 5}, 2), std::int64_t(2));
        // Sorted windows compared lexicographically: {0, 1} beats {0, 9}, which beats {1, 1}.
        QCOMPARE(chooseSpanStart({1, 1, 0, 9}, 2), std::int64_t(1));
        QCOMPARE(chooseSpanStart({1, 1, 9, 0}, 2), std::int64_t(2));
        QCOMPARE(chooseSpanStart({3, 1, 2}, 5), std::int64_t(0)); // longer than the model
    }

    void serversJoiningOneByOneSpread()
    {
        std::vector<PlacedServer> servers;
        for (int i = 0; i < 4; ++i) {
            const std::int64_t start = chooseSpanStart(blockThroughputOf(servers, 8), 2);
            servers.push_back(placed("s" + std::to_string(i), start, start + 2));
        }
        QCOMPARE(blockThroughputOf(servers, 8), std::vector<double>(8, 1.0));
    }

    void rebalancingMovesOnlyWhenItHelps()
    {
        // Two servers stacked on [0, 4) of 8 blocks leave [4, 8) uncovered: moving fixes it.
        const std::vector<PlacedServer> stacked{placed("a", 0, 4), placed("b", 0, 4)};
        QVERIFY(shouldMove(stacked, "b", 8));
        // Already spread: nobody moves.
        const std::vector<PlacedServer> spread{placed("a", 0, 4), placed("b", 4, 8)};
        QVERIFY(!shouldMove(spread, "a", 8));
        QVERIFY(!shouldMove(spread, "b", 8));
        // A small gain (min 2 -> 2.2) is below the 1/0.75 threshold.
        const std::vector<PlacedServer> nearly{placed("a", 0, 4, 2.0), placed("b", 4, 8, 2.0),
                                               placed("c", 0, 4, 0.2), placed("d", 4, 8, 0.1),
                                               placed("e", 2, 6, 0.1)};
        QVERIFY(!shouldMove(nearly, "e", 8));
        QVERIFY(!shouldMove(stacked, "nobody", 8));
    }

    // The plan counts exactly what a loaded block holds, for every family and format.
    void memoryPlanCountsLoadedBlocks()
    {
        for (const char *family : {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "mixtral",
                                   "falcon", "falcon-mqa", "falcon-alibi", "bloom"}) {
            auto config = ModelConfig::parse(*testModelConfigJson({family, "tiny"}), family);
            QVERIFY(config);
            const auto weights = makeTestWeights(*config, 3, at::kBFloat16);
            const MemoryTensorSource source(weights);
            for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
                for (Quantization format :
                     {Quantization::None, Quantization::Int8, Quantization::Nf4}) {
                    auto span = BlockSpan::load(*config, source, 1, 3, dtype, format);
                    QVERIFY(span);
                    // The weights are bf16, so nf4 holds its absmax in 2 bytes; the plan
                    // counts 4 (it does not look at the checkpoint) and never less.
                    const int bytesPerValue = dtype == at::kFloat ? 4 : 2;
                    QCOMPARE((*span)->weightBytes(),
                             2 * blockWeightBytes(*config, bytesPerValue, format, 2));
                    QVERIFY((*span)->weightBytes()
                            <= 2 * blockWeightBytes(*config, bytesPerValue, format));
                }
            }
        }
    }

    // On a GPU the budget is the free memory NVML reports less a reserve for activations and
    // the CUDA runtime: a tenth, at least 1 GiB.
    void gpuMemoryPlanUsesFreeMemory()
    {
        constexpr std::int64_t GiB = std::int64_t(1) << 30;
        QCOMPARE(gpuMemoryBudget(80 * GiB), 72 * GiB);
        QCOMPARE(gpuMemoryBudget(6 * GiB), 5 * GiB);
        QCOMPARE(gpuMemoryBudget(GiB / 2), std::int64_t(0));
        auto configText = testModelConfigJson({"llama", "llama-3-8b"});
        auto config = ModelConfig::parse(*configText, "config.json");
        QVERIFY(config);
        // An 8 GiB card with 7.5 GiB free: 6.5 GiB for blocks and their cache.
        const std::int64_t budget = gpuMemoryBudget(7 * GiB + GiB / 2);
        QCOMPARE(budget, 6 * GiB + GiB / 2);
        const std::int64_t perBlock =
            blockWeightBytes(*config, 2, Quantization::Nf4) + cacheBytesPerBlock(*config, 2, 4096);
        const std::int64_t reserve = std::min<std::int64_t>(budget / 10, 512 << 20);
        QCOMPARE(*blocksForBudget(*config, 2, 4096, budget, Quantization::Nf4),
                 std::min<std::int64_t>(config->numLayers, (budget - reserve) / perBlock));
        // Nothing free: a clear error, not zero blocks.
        QVERIFY(!blocksForBudget(*config, 2, 4096, gpuMemoryBudget(GiB / 2)));
    }

    void memoryPlanFitsBlocksAndCache()
    {
        auto configText = testModelConfigJson({"llama", "tinyllama-1.1b"});
        auto config = ModelConfig::parse(*configText, "config.json");
        QVERIFY(config);
        // TinyLlama: 22 blocks of 44M parameters each.
        QCOMPARE(blockParameterCount(*config),
                 std::int64_t(2048 * 2048 * 2 + 2 * 2048 * 256 + 3 * 2048 * 5632 + 2 * 2048));
        const std::int64_t perBlock =
            blockWeightBytes(*config, 2) + cacheBytesPerBlock(*config, 2, 4096);
        auto blocks = blocksForBudget(*config, 2, 4096, std::int64_t(1) << 30);
        QVERIFY(blocks);
        QCOMPARE(*blocks, ((std::int64_t(1) << 30) - (std::int64_t(1) << 30) / 10) / perBlock);
        QCOMPARE(*blocksForBudget(*config, 2, 4096, std::int64_t(64) << 30), std::int64_t(22));
        auto tooSmall = blocksForBudget(*config, 2, 4096, std::int64_t(50) << 20);
        QVERIFY(!tooSmall);
        QVERIFY(QString::fromStdString(tooSmall.error().message)
                    .contains(QLatin1String("does not hold one block")));

        // Packed blocks count their codes and scales: int8 holds about twice and nf4 about
        // 3.5 times as many blocks in the same budget (the KV cache stays bf16).
        const double plainBytes = double(blockWeightBytes(*config, 2));
        const double int8Bytes = double(blockWeightBytes(*config, 2, Quantization::Int8));
        const double nf4Bytes = double(blockWeightBytes(*config, 2, Quantization::Nf4));
        QVERIFY2(plainBytes / int8Bytes > 1.95, qPrintable(QString::number(int8Bytes)));
        QVERIFY2(plainBytes / nf4Bytes > 3.5, qPrintable(QString::number(nf4Bytes)));
        const std::int64_t budget = std::int64_t(1) << 30, usable = budget - budget / 10;
        for (Quantization format : {Quantization::Int8, Quantization::Nf4})
            QCOMPARE(*blocksForBudget(*config, 2, 256, budget, format),
                     std::min<std::int64_t>(22, usable
                                                    / (blockWeightBytes(*config, 2, format)
                                                       + cacheBytesPerBlock(*config, 2, 256))));
        // 44M parameters per block: int8 one byte each plus a scale per row, nf4 half a byte
        // plus an fp32 absmax per 64; the two norms in bf16.
        const std::int64_t rows = 2048 + 2 * 256 + 2048 + 2 * 5632 + 2048;
        const std::int64_t values = blockParameterCount(*config) - 2 * 2048;
        QCOMPARE(blockWeightBytes(*config, 2, Quantization::Int8),
                 values + 4 * rows + 2 * 2 * 2048);
        QCOMPARE(blockWeightBytes(*config, 2, Quantization::Nf4),
                 values / 2 + 4 * (values / 64) + 2 * 2 * 2048);
        QVERIFY(checkQuantizable(*config, Quantization::Nf4));
        ModelConfig misfit = *config;
        misfit.intermediateSize = 5600;
        auto refused = checkQuantizable(misfit, Quantization::Nf4);
        QVERIFY(!refused);
        QVERIFY2(refused.error().message.find("mlp.down_proj.weight rows hold 5600")
                     != std::string::npos,
                 refused.error().message.c_str());
        QVERIFY(checkQuantizable(misfit, Quantization::Int8));

        QCOMPARE(*parseByteSize("8GiB"), std::int64_t(8) << 30);
        QCOMPARE(*parseByteSize("512MB"), std::int64_t(512000000));
        QCOMPARE(*parseByteSize("1.5g"), std::int64_t(1500000000));
        QCOMPARE(*parseByteSize("4096"), std::int64_t(4096));
        for (const char *bad : {"", "GiB", "-1G", "12 parsecs", "nan", "1e300"})
            QVERIFY2(!parseByteSize(bad), bad);
    }
};

QTEST_GUILESS_MAIN(TestSwarm)
#include "testswarm.moc"
