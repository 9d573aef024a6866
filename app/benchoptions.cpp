#include "app/benchoptions.h"

#include <cstdio>

#include "app/modelsource.h"

namespace corolla {

void addBenchModelOptions(CommandParser &parser, const QString &defaultShape,
                          const QString &defaultDtype)
{
    parser.addValueOption(QStringLiteral("model"), QStringLiteral("DIR|ORG/NAME[@REV]"),
                          QStringLiteral("checkpoint folder, or a Hub model (downloaded first)"));
    parser.addValueOption(QStringLiteral("shape"), QStringLiteral("NAME"),
                          QStringLiteral("random weights of a named shape (see make-test-model)"),
                          defaultShape);
    parser.addValueOption(QStringLiteral("family"), QStringLiteral("NAME"),
                          QStringLiteral("family for generic shapes such as tiny"),
                          QStringLiteral("llama"));
    parser.addValueOption(QStringLiteral("dtype"), QStringLiteral("fp32|bf16"),
                          QStringLiteral("compute dtype"), defaultDtype);
    addQuantOption(parser);
    addDeviceOptions(parser);
}

BenchModelOptions benchModelOptions(CommandParser &parser)
{
    BenchModelOptions options;
    if (auto dtype = parseComputeDtype(parser.text(QStringLiteral("dtype"))))
        options.dtype = *dtype;
    else
        parser.error(QString::fromStdString(dtype.error().message));
    options.quantization = quantOption(parser);
    options.device = deviceOptions(parser);
    options.modelDir = parser.text(QStringLiteral("model"));
    // The shape has a default: only a shape given on the command line conflicts with --model.
    if (!options.modelDir.empty() && parser.isSet(QStringLiteral("shape")))
        parser.error(QStringLiteral("give --model or --shape, not both"));
    options.spec.shape = parser.text(QStringLiteral("shape"));
    options.spec.family = familyOfShape(options.spec.shape, parser.text(QStringLiteral("family")));
    options.spec.storage = options.dtype;
    return options;
}

Result<std::string> benchModelFolder(const BenchModelOptions &options, const QTemporaryDir &scratch)
{
    if (!options.modelDir.empty())
        return modelFolder(options.modelDir, allWeights());
    if (!scratch.isValid())
        return makeError(ErrorCode::Io, "no temporary folder for the random weights");
    const std::string folder = scratch.filePath(QStringLiteral("model")).toStdString();
    std::fprintf(stderr, "writing random %s weights...\n", options.spec.shape.c_str());
    if (auto written = writeTestModel(folder, options.spec, 1); !written)
        return written.error();
    return folder;
}

} // namespace corolla
