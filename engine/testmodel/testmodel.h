#pragma once
// Deterministic random checkpoints in the Hugging Face layout, for tests, benchmarks and the
// demo model: a config.json of a given family and shape, weights, and tokenizer files.
// Thread: any.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "loader/tensorsource.h"
#include "model/modelconfig.h"

namespace corolla {

struct TestModelSpec {
    std::string family = "llama"; // llama, mistral, mixtral, qwen2, qwen3, gemma2, gemma3,
                                  // falcon, falcon-1ln, falcon-mqa, falcon-alibi or bloom
    std::string shape = "tiny";   // see testModelShapes()
    at::ScalarType storage = at::kBFloat16;
    std::uint64_t seed = 0;
};

// Names of the shapes, each with the families it fits: "tiny (all)", "tinyllama-1.1b (llama)"...
std::vector<std::string> testModelShapes();

// The family a named shape belongs to ("tinyllama-1.1b" -> "llama"); `fallback` for the
// generic shapes (tiny, demo) that fit every family.
std::string familyOfShape(const std::string &shape, const std::string &fallback);

// The config.json text of a test model.
Result<std::string> testModelConfigJson(const TestModelSpec &spec);

// One tensor of a test checkpoint: its name, shape and how its values are drawn.
struct TestTensor {
    enum class Kind { Matrix, Norm, NormOffset, Bias, Embedding }; // NormOffset: Gemma's norms
    std::string name;
    std::vector<std::int64_t> shape;
    Kind kind = Kind::Matrix;
};

// Every tensor of a test checkpoint of `config`, under the family's checkpoint names.
std::vector<TestTensor> testTensors(const ModelConfig &config);

// The tensor's random values, seeded from `seed` and its own name, so a tensor does not
// depend on which others are made: linear weights ~ N(0, 1/in), norm weights ~ 1 + N(0, 0.01),
// biases ~ N(0, 0.01), embeddings ~ N(0, 1).
at::Tensor makeTestTensor(const TestTensor &tensor, std::uint64_t seed, at::ScalarType storage);

// All of them, in memory.
std::map<std::string, at::Tensor> makeTestWeights(const ModelConfig &config, std::uint64_t seed,
                                                  at::ScalarType storage);

// The same weights made one tensor at a time as they are read, so that a benchmark of a
// large shape holds only the loaded model, not a second copy of its checkpoint.
class RandomTensorSource : public TensorSource {
public:
    RandomTensorSource(const ModelConfig &config, std::uint64_t seed, at::ScalarType storage);

    std::vector<std::string> tensorNames() const override;
    bool contains(const std::string &name) const override;
    Result<at::Tensor> read(const std::string &name) const override;

private:
    std::map<std::string, TestTensor> m_tensors;
    std::uint64_t m_seed = 0;
    at::ScalarType m_storage = at::kBFloat16;
};

// Writes config.json, weights (in `shards` files), tokenizer.json and tokenizer_config.json.
Result<void> writeTestModel(const std::string &directory, const TestModelSpec &spec, int shards);

} // namespace corolla
