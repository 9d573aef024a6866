#pragma once
// The option group of the benchmarks that measure a model: a checkpoint folder, or random
// weights of a named shape, and the compute dtype.
// Thread: main.

#include <string>

#include <QTemporaryDir>

#include "app/commandparser.h"
#include "core/result.h"
#include "model/blockspan.h"
#include "testmodel/testmodel.h"

namespace corolla {

struct BenchModelOptions {
    std::string modelDir; // empty: random weights of `spec`
    TestModelSpec spec;   // shape, family and storage dtype, with no modelDir
    at::ScalarType dtype = at::kBFloat16;
    Quantization quantization = Quantization::None; // of the blocks' projections
    DeviceChoice device;                            // --device, --backend

    // The name reports give the model: its folder, or its shape.
    std::string name() const { return modelDir.empty() ? spec.shape : modelDir; }
};

// --model, --shape (default `defaultShape`), --family, --dtype (default `defaultDtype`),
// --quant, --device and --backend.
void addBenchModelOptions(CommandParser &parser, const QString &defaultShape,
                          const QString &defaultDtype);
// The options given; a bad value is recorded in the parser (see CommandParser::failed()).
BenchModelOptions benchModelOptions(CommandParser &parser);
// A checkpoint folder of the model: modelDir, or the random weights written into `scratch`.
Result<std::string> benchModelFolder(const BenchModelOptions &options,
                                     const QTemporaryDir &scratch);

} // namespace corolla
