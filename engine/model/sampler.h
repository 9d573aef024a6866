#pragma once
// Picks the next token from logits: greedy, or sampling with temperature, top-k, top-p and
// a repetition penalty, applied in the order Hugging Face's generate() applies them.
// Thread: one thread per Sampler (it owns a random generator).

#include <cstdint>
#include <random>
#include <vector>

#include <ATen/core/Tensor.h>

namespace corolla {

struct SamplingOptions {
    double temperature = 0.0;       // 0: greedy
    std::int64_t topK = 0;          // 0: no limit
    double topP = 1.0;              // 1: no limit
    double repetitionPenalty = 1.0; // 1: none
    std::uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplingOptions &options);

    // logits [vocab] fp32; `context` the prompt and the tokens generated so far.
    std::int64_t next(const at::Tensor &logits, const std::vector<std::int64_t> &context);

private:
    double uniform(); // [0, 1) with 53 random bits, identical on every platform

    SamplingOptions m_options;
    std::mt19937_64 m_random;
};

} // namespace corolla
