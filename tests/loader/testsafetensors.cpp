// The safetensors reader and checkpoint folders: reading, partial reads, shards, and every
// kind of hostile file, which must give an error naming the file and tensor, never a crash.

#include <cstring>
#include <filesystem>
#include <fstream>

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include "loader/checkpoint.h"
#include "loader/npyfile.h"
#include "loader/safetensorsfile.h"
#include "loader/safetensorswriter.h"
#include "model/blockspan.h"
#include "model/clienthead.h"
#include "model/localmodel.h"
#include "testmodel/testmodel.h"

using namespace corolla;
namespace fs = std::filesystem;

namespace {

// A safetensors file from a header (serialised as given) and a data area of `dataBytes`.
void writeRaw(const std::string &path, const std::string &header, std::size_t dataBytes,
              std::uint64_t declaredHeaderSize = 0)
{
    std::ofstream out(path, std::ios::binary);
    std::uint64_t size = declaredHeaderSize ? declaredHeaderSize : header.size();
    for (int i = 0; i < 8; ++i) {
        const char byte = char(size & 0xff);
        out.write(&byte, 1);
        size >>= 8;
    }
    out << header;
    out << std::string(dataBytes, '\x01');
}

std::string tensorEntry(const std::string &dtype, const std::string &shape, std::uint64_t begin,
                        std::uint64_t end)
{
    return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":["
           + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

} // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string path(const char *name) const
    {
        return m_dir.filePath(QString::fromLatin1(name)).toStdString();
    }

    // Opens `file` expecting failure; the message must name the file and contain `fragment`.
    void expectOpenError(const std::string &file, const std::string &fragment)
    {
        auto opened = SafetensorsFile::open(file);
        QVERIFY2(!opened, ("expected an error for " + fragment).c_str());
        const std::string message = opened.error().message;
        QVERIFY2(message.find(file) != std::string::npos, message.c_str());
        QVERIFY2(message.find(fragment) != std::string::npos, message.c_str());
    }

private Q_SLOTS:
    void roundTripsEveryFloatType()
    {
        std::map<std::string, at::Tensor> tensors = {
            {"a.f32", at::arange(12, at::kFloat).view({3, 4}) / 7.0},
            {"b.bf16", (at::arange(6, at::kFloat) / 3.0).to(at::kBFloat16)},
            {"c.f16", (at::arange(5, at::kFloat) - 2.0).to(at::kHalf).view({5, 1})},
            {"d.empty", at::arange(0, at::kFloat)},
        };
        QVERIFY(writeSafetensors(path("round.safetensors"), tensors, {{"format", "pt"}}).ok());
        auto file = SafetensorsFile::open(path("round.safetensors"));
        QVERIFY(file.ok());
        QCOMPARE((*file)->tensors().size(), std::size_t(4));
        QCOMPARE((*file)->metadata().at("format"), std::string("pt"));
        for (const auto &[name, expected] : tensors) {
            auto read = (*file)->read(name);
            QVERIFY2(read.ok(), name.c_str());
            QCOMPARE(read->scalar_type(), expected.scalar_type());
            QVERIFY(at::equal(*read, expected));
        }
        QCOMPARE((*file)->touchedTensors().size(), std::size_t(4));
        QVERIFY(!(*file)->read("missing").ok());
    }

    void rejectsHostileFiles()
    {
        writeRaw(path("short.safetensors"), "", 0, 0);
        std::ofstream(path("tiny.safetensors")) << "abc";
        expectOpenError(path("tiny.safetensors"), "too short");

        writeRaw(path("bigheader.safetensors"), "{}", 16, 1 << 20);
        expectOpenError(path("bigheader.safetensors"), "larger than the file");

        writeRaw(path("hugeheader.safetensors"), "{}", 0, std::uint64_t(1) << 40);
        expectOpenError(path("hugeheader.safetensors"), "exceeds the limit");

        writeRaw(path("json.safetensors"), "{\"a\": [1, 2", 0);
        expectOpenError(path("json.safetensors"), "not valid JSON");

        writeRaw(path("array.safetensors"), "[1, 2]", 0);
        expectOpenError(path("array.safetensors"), "not a JSON object");

        writeRaw(path("dtype.safetensors"), "{\"w\":" + tensorEntry("F7", "[2]", 0, 8) + "}", 8);
        expectOpenError(path("dtype.safetensors"), "unknown dtype 'F7'");
        expectOpenError(path("dtype.safetensors"), "tensor 'w'");

        writeRaw(path("range.safetensors"), "{\"w\":" + tensorEntry("F32", "[4]", 0, 16) + "}", 8);
        expectOpenError(path("range.safetensors"), "past the end of the data");

        writeRaw(path("count.safetensors"), "{\"w\":" + tensorEntry("F32", "[3]", 0, 16) + "}", 16);
        expectOpenError(path("count.safetensors"), "need 12 bytes but data_offsets span 16");

        writeRaw(path("overlap.safetensors"),
                 "{\"a\":" + tensorEntry("F32", "[2]", 0, 8)
                     + ",\"b\":" + tensorEntry("F32", "[2]", 4, 12) + "}",
                 12);
        expectOpenError(path("overlap.safetensors"), "overlap");

        writeRaw(path("reversed.safetensors"), "{\"w\":" + tensorEntry("F32", "[0]", 8, 4) + "}",
                 8);
        expectOpenError(path("reversed.safetensors"), "reversed");

        writeRaw(path("negative.safetensors"), "{\"w\":" + tensorEntry("F32", "[-1]", 0, 4) + "}",
                 4);
        expectOpenError(path("negative.safetensors"), "non-negative");

        writeRaw(path("overflow.safetensors"),
                 "{\"w\":" + tensorEntry("F32", "[4294967296, 4294967296, 16]", 0, 4) + "}", 4);
        expectOpenError(path("overflow.safetensors"), "too large");

        writeRaw(path("missing.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        expectOpenError(path("missing.safetensors"), "data_offsets");
    }

    void truncatedFileNamesTheTensor()
    {
        std::map<std::string, at::Tensor> tensors = {{"first", at::arange(4, at::kFloat)},
                                                     {"second", at::arange(64, at::kFloat)}};
        QVERIFY(writeSafetensors(path("whole.safetensors"), tensors).ok());
        const auto size = fs::file_size(path("whole.safetensors"));
        fs::copy_file(path("whole.safetensors"), path("cut.safetensors"));
        fs::resize_file(path("cut.safetensors"), size - 10);
        expectOpenError(path("cut.safetensors"), "tensor 'second'");
        expectOpenError(path("cut.safetensors"), "truncated");
    }

    void unsupportedButKnownDtypeFailsOnRead()
    {
        writeRaw(path("ints.safetensors"), "{\"ids\":" + tensorEntry("I64", "[2]", 0, 16) + "}",
                 16);
        auto file = SafetensorsFile::open(path("ints.safetensors"));
        QVERIFY(file.ok());
        auto read = (*file)->read("ids");
        QVERIFY(!read.ok());
        QVERIFY(read.error().message.find("I64") != std::string::npos);
        QVERIFY(read.error().message.find("'ids'") != std::string::npos);
    }

    void blockRangeReadsOnlyItsTensors()
    {
        TestModelSpec spec{"llama", "tiny", at::kFloat, 7};
        const std::string dir = path("sharded");
        QVERIFY(writeTestModel(dir, spec, 3).ok());
        auto config = ModelConfig::load(dir);
        QVERIFY(config.ok());
        auto checkpoint = Checkpoint::open(dir);
        QVERIFY(checkpoint.ok());
        QVERIFY((*checkpoint)->touchedTensors().empty());
        QVERIFY((*checkpoint)->openedFiles().empty()); // the index alone was read

        auto span = BlockSpan::load(*config, **checkpoint, 1, 3, at::kFloat);
        QVERIFY2(span.ok(), span.ok() ? "" : span.error().message.c_str());
        std::set<std::string> expected;
        for (const std::string &name : (*checkpoint)->tensorNames()) {
            const int block = blockIndexOf(name);
            if (block == 1 || block == 2)
                expected.insert(name);
        }
        QCOMPARE(expected.size(), std::size_t(2 * 9));
        QCOMPARE((*checkpoint)->touchedTensors(), expected);

        auto clientCheckpoint = Checkpoint::open(dir);
        QVERIFY(clientCheckpoint.ok());
        QVERIFY(ClientHead::load(*config, **clientCheckpoint, at::kFloat).ok());
        const std::set<std::string> client = {"lm_head.weight", "model.embed_tokens.weight",
                                              "model.norm.weight"};
        QCOMPARE((*clientCheckpoint)->touchedTensors(), client);

        // The same answers through the folder API, without building any block.
        auto raw = Checkpoint::open(dir);
        QVERIFY(raw.ok());
        auto blocks = (*raw)->readBlocks(1, 3);
        QVERIFY(blocks.ok());
        std::set<std::string> names;
        for (const auto &entry : *blocks)
            names.insert(entry.first);
        QCOMPARE(names, expected);
        QCOMPARE((*raw)->touchedTensors(), expected);
        auto clientPart = (*raw)->readClientPart();
        QVERIFY(clientPart.ok());
        QCOMPARE(clientPart->size(), client.size());
        QVERIFY(clientPart->at("model.norm.weight").sizes() == at::IntArrayRef({64}));
    }

    void blockIndexParsing()
    {
        QCOMPARE(blockIndexOf("model.layers.17.mlp.up_proj.weight"), 17);
        QCOMPARE(blockIndexOf("transformer.h.3.ln_1.weight"), 3);
        QCOMPARE(blockIndexOf("h.0.self_attention.dense.bias"), 0);
        QCOMPARE(blockIndexOf("model.embed_tokens.weight"), -1);
        QCOMPARE(blockIndexOf("lm_head.weight"), -1);
        QCOMPARE(blockIndexOf("model.layers.x.weight"), -1);
        QCOMPARE(blockIndexOf("graph.12.weight"), -1);
    }

    void shardedEqualsSingleFile()
    {
        for (const char *family : {"llama", "bloom"}) {
            TestModelSpec spec{family, "tiny", at::kBFloat16, 3};
            const std::string single = path((std::string(family) + "-single").c_str());
            const std::string sharded = path((std::string(family) + "-sharded").c_str());
            QVERIFY(writeTestModel(single, spec, 1).ok());
            QVERIFY(writeTestModel(sharded, spec, 4).ok());
            QVERIFY(fs::exists(fs::path(sharded) / "model-00004-of-00004.safetensors"));
            auto a = LocalModel::open(single, at::kFloat);
            auto b = LocalModel::open(sharded, at::kFloat);
            QVERIFY(a.ok() && b.ok());
            auto logitsA = (*a)->logits({1, 40, 41, 42, 7});
            auto logitsB = (*b)->logits({1, 40, 41, 42, 7});
            QVERIFY(logitsA.ok() && logitsB.ok());
            QVERIFY(at::equal(*logitsA, *logitsB));
        }
    }

    // The weights a benchmark makes while loading are the test checkpoint's, tensor for tensor.
    void randomSourceEqualsTestWeights()
    {
        for (const char *family : {"qwen3", "gemma3", "mixtral", "falcon-alibi", "bloom"}) {
            TestModelSpec spec{family, "tiny", at::kBFloat16, 4};
            auto config = ModelConfig::parse(*testModelConfigJson(spec), family);
            QVERIFY(config.ok());
            const auto weights = makeTestWeights(*config, spec.seed, spec.storage);
            const RandomTensorSource source(*config, spec.seed, spec.storage);
            QCOMPARE(source.tensorNames().size(), weights.size());
            for (const auto &[name, tensor] : weights) {
                QVERIFY2(source.contains(name), name.c_str());
                auto made = source.read(name);
                QVERIFY(made.ok());
                QVERIFY2(at::equal(*made, tensor), name.c_str());
            }
            auto missing = source.read("model.layers.99.mlp.up_proj.weight");
            QVERIFY(!missing.ok());
            QVERIFY(missing.error().message.find("layers.99") != std::string::npos);
        }
    }

    void brokenIndexIsReported()
    {
        const std::string dir = path("badindex");
        fs::create_directories(dir);
        std::ofstream(dir + "/model.safetensors.index.json")
            << R"({"weight_map": {"model.norm.weight": "model-00009.safetensors"}})";
        auto checkpoint = Checkpoint::open(dir);
        QVERIFY(checkpoint.ok());
        auto read = (*checkpoint)->read("model.norm.weight");
        QVERIFY(!read.ok());
        QVERIFY(read.error().message.find("model-00009.safetensors") != std::string::npos);

        std::ofstream(dir + "/model.safetensors.index.json")
            << R"({"weight_map": {"model.norm.weight": "../../etc/passwd"}})";
        QVERIFY(!Checkpoint::open(dir).ok());
        std::ofstream(dir + "/model.safetensors.index.json") << "{not json";
        QVERIFY(!Checkpoint::open(dir).ok());
        QVERIFY(!Checkpoint::open(path("does-not-exist")).ok());
    }

    void npyRoundTrip()
    {
        const at::Tensor values = at::arange(24, at::kFloat).view({4, 6}) / 5.0;
        QVERIFY(writeNpy(path("values.npy"), values).ok());
        auto read = readNpy(path("values.npy"));
        QVERIFY(read.ok());
        QCOMPARE(read->sizes().vec(), values.sizes().vec());
        QVERIFY(at::equal(*read, values));
        std::ifstream in(path("values.npy"), std::ios::binary);
        std::string head(10, '\0');
        in.read(head.data(), 10);
        const std::size_t headerLength =
            std::size_t(std::uint8_t(head[8])) | (std::size_t(std::uint8_t(head[9])) << 8);
        QCOMPARE((10 + headerLength) % 64, std::size_t(0)); // NumPy's alignment rule
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "testsafetensors.moc"
