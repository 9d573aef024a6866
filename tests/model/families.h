#pragma once
// The block families the model tests run over: the tiny test model of each family with fp32
// random weights, and the helpers the comparisons share.

#include <map>
#include <string>

#include <ATen/TensorOperators.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randn.h>

#include <QString>
#include <QTest>

#include "model/modelconfig.h"
#include "testmodel/testmodel.h"

namespace corolla::testing {

struct Family {
    ModelConfig config;
    std::map<std::string, at::Tensor> weights;
};

// Every family, and BLOOM with the residual taken after the input LayerNorm.
inline const char *const kFamilies[] = {
    "llama",  "mistral",    "mixtral",    "qwen2",        "qwen3", "gemma2",       "gemma3",
    "falcon", "falcon-1ln", "falcon-mqa", "falcon-alibi", "bloom", "bloom-post-ln"};

inline Family makeFamily(const std::string &family, std::uint64_t seed, bool postLayerNorm = false)
{
    TestModelSpec spec{family, "tiny", at::kFloat, seed};
    auto text = testModelConfigJson(spec);
    auto config = ModelConfig::parse(*text, family);
    config->residualFromNormedInput = postLayerNorm;
    return {*config, makeTestWeights(*config, seed, at::kFloat)};
}

// QTest data: one row per entry of kFamilies, in the column "family".
inline void addFamilyRows()
{
    QTest::addColumn<QString>("family");
    for (const char *family : kFamilies)
        QTest::newRow(family) << QString::fromLatin1(family);
}

// A family of kFamilies by name.
inline Family familyByName(const QString &name, std::uint64_t seed)
{
    if (name == QLatin1String("bloom-post-ln"))
        return makeFamily("bloom", seed, true);
    return makeFamily(name.toStdString(), seed);
}

inline at::Tensor randomHidden(std::vector<std::int64_t> shape, std::uint64_t seed)
{
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat));
}

inline double maxAbsDiff(const at::Tensor &a, const at::Tensor &b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

} // namespace corolla::testing
