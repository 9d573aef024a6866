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
#include "model/modelconfig.h"

namespace corolla {

struct TestModelSpec {
    std::string family = "llama"; // llama, mistral, qwen2 or bloom
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

// Random weights for `config`, every tensor seeded from `seed` and its own name, so a tensor
// does not depend on which others are made.
std::map<std::string, at::Tensor> makeTestWeights(const ModelConfig &config, std::uint64_t seed,
                                                  at::ScalarType storage);

// Writes config.json, weights (in `shards` files), tokenizer.json and tokenizer_config.json.
Result<void> writeTestModel(const std::string &directory, const TestModelSpec &spec, int shards);

} // namespace corolla
