#pragma once
// Autoregressive generation on a LocalModel: prefill the prompt into a KV cache, then one
// decode step per token, sampling each from the last position's logits.
// Thread: the calling thread; onToken is called on it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/result.h"
#include "model/localmodel.h"
#include "model/sampler.h"

namespace corolla {

struct GenerationOptions {
    std::int64_t maxNewTokens = 32;
    SamplingOptions sampling;
    std::vector<std::int64_t> stopTokenIds; // generation ends after emitting one of these
    const std::atomic<bool> *cancel = nullptr; // checked before every step
};

struct GenerationStats {
    std::int64_t promptTokens = 0;
    std::int64_t generatedTokens = 0;
    double prefillSeconds = 0;  // prompt through the model up to the first token's logits
    double decodeSeconds = 0;   // every later step
};

// Generates after `prompt`; onToken receives each token as soon as it is chosen.
Result<GenerationStats> generate(const LocalModel &model, const std::vector<std::int64_t> &prompt,
                                 const GenerationOptions &options,
                                 const std::function<void(std::int64_t)> &onToken);

} // namespace corolla
