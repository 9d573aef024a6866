// make-test-model, logits and generate: the local engine on the command line.

#include <chrono>
#include <cstdio>
#include <optional>

#include <QDir>

#include "app/commandparser.h"
#include "app/commands.h"
#include "app/modelsource.h"
#include "loader/npyfile.h"
#include "model/generation.h"
#include "model/localmodel.h"
#include "testmodel/testmodel.h"
#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

// --model, --dtype and --quant, shared by the commands that run a local model.
void addModelOptions(CommandParser &parser)
{
    parser.addValueOptions({
        {"model", "DIR|ORG/NAME[@REV]", "checkpoint folder, or a Hub model (downloaded first)"},
        {"dtype", "fp32|bf16", "compute dtype: fp32 or bf16", "fp32"},
    });
    addQuantOption(parser);
    addDeviceOptions(parser);
}

Result<std::unique_ptr<LocalModel>> openModel(CommandParser &parser)
{
    auto dtype = parseComputeDtype(parser.text(QStringLiteral("dtype")));
    if (!dtype)
        return dtype.error();
    auto quantization = quantizationFromName(parser.text(QStringLiteral("quant")));
    if (!quantization)
        return quantization.error();
    auto device = ComputeDevice::fromName(parser.text(QStringLiteral("device")));
    if (!device)
        return device.error();
    auto backend = computeBackendFromName(parser.text(QStringLiteral("backend")));
    if (!backend)
        return backend.error();
    auto placement = resolvePlacement(*device, *backend);
    if (!placement)
        return placement.error();
    auto folder = modelFolder(parser.text(QStringLiteral("model")), allWeights());
    if (!folder)
        return folder.error();
    return LocalModel::open(*folder, *dtype, *quantization, *placement);
}

} // namespace

int runMakeTestModel(const QStringList &arguments)
{
    std::string shapes;
    for (const std::string &shape : testModelShapes())
        shapes += (shapes.empty() ? "" : ", ") + shape;
    CommandParser parser(
        QStringLiteral("make-test-model"),
        QStringLiteral("Writes a Hugging Face checkpoint folder with deterministic "
                       "random weights and a byte-level tokenizer."));
    parser.addValueOptions({
        {"family",
         "llama|mistral|mixtral|qwen2|qwen3|gemma2|gemma3|falcon|falcon-1ln|falcon-mqa|"
         "falcon-alibi|bloom",
         "model family (the falcon ones: new decoder with two or one norms, multi-query, ALiBi)"},
        {"out", "DIR", "output folder"},
    });
    parser.addValueOption(QStringLiteral("shape"), QStringLiteral("NAME"),
                          QStringLiteral("shape: ") + QString::fromStdString(shapes),
                          QStringLiteral("tiny"));
    parser.addValueOptions({
        {"shards", "N", "number of safetensors files", "1"},
        {"dtype", "bf16|fp32", "storage dtype", "bf16"},
        {"seed", "S", "random seed", "0"},
    });
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("family"));
    parser.require(QStringLiteral("out"));
    TestModelSpec spec;
    spec.family = parser.text(QStringLiteral("family"));
    spec.shape = parser.text(QStringLiteral("shape"));
    spec.seed = std::uint64_t(parser.integer(QStringLiteral("seed"), 0, INT64_MAX));
    const int shards = int(parser.integer(QStringLiteral("shards"), 1, 1000));
    if (parser.failed())
        return 2;
    auto storage = parseComputeDtype(parser.text(QStringLiteral("dtype")));
    if (!storage)
        return reportError("make-test-model", storage.error().message);
    spec.storage = *storage;

    if (auto written = writeTestModel(parser.text(QStringLiteral("out")), spec, shards); !written)
        return reportError("make-test-model", written.error().toString());
    std::fprintf(stderr, "wrote a %s %s model (%s, %d shard%s) to %s\n", spec.shape.c_str(),
                 spec.family.c_str(), computeDtypeName(spec.storage), shards,
                 shards == 1 ? "" : "s", parser.text(QStringLiteral("out")).c_str());
    return 0;
}

int runLogits(const QStringList &arguments)
{
    CommandParser parser(QStringLiteral("logits"),
                         QStringLiteral("Writes the logits of every position of a token sequence "
                                        "as a float32 .npy array [n_ids, vocab]."));
    addModelOptions(parser);
    parser.addValueOptions({
        {"ids", "LIST", "token ids, e.g. 1,2,3"},
        {"out", "FILE.npy", "output file"},
        {"intermediates", "DIR",
         "also write every block's named intermediates there, as "
         "block<N>.<name>.npy (see docs/adding-a-model.md)"},
    });
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    parser.require(QStringLiteral("ids"));
    parser.require(QStringLiteral("out"));
    const std::vector<std::int64_t> ids = parser.idList(QStringLiteral("ids"));
    if (parser.failed())
        return 2;
    auto model = openModel(parser);
    if (!model)
        return reportError("logits", model.error().toString());
    IntermediateHook dump;
    std::optional<Error> dumpFailure;
    if (parser.isSet(QStringLiteral("intermediates"))) {
        const QString folder = parser.value(QStringLiteral("intermediates"));
        if (!QDir().mkpath(folder))
            return reportError("logits", folder.toStdString() + ": cannot create the folder");
        dump = [&](std::int64_t block, std::string_view name, const at::Tensor &value) {
            const QString file = QStringLiteral("block%1.%2.npy")
                                     .arg(block)
                                     .arg(QLatin1String(name.data(), qsizetype(name.size())));
            if (auto written = writeNpy(QDir(folder).filePath(file).toStdString(), value);
                !written && !dumpFailure)
                dumpFailure = written.error();
        };
    }
    auto logits = (*model)->logits(ids, dump);
    if (!logits)
        return reportError("logits", logits.error().toString());
    if (dumpFailure)
        return reportError("logits", dumpFailure->toString());
    if (auto written = writeNpy(parser.text(QStringLiteral("out")), *logits); !written)
        return reportError("logits", written.error().toString());
    return 0;
}

} // namespace corolla
