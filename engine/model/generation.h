#pragma once
// Autoregressive generation: prefill the prompt through the blocks (on this machine or on a
// swarm, behind BlockRunner), then one decode step per token, sampling each from the last
// position's logits computed by the client head.
// Thread: the calling thread; onToken is called on it.

#include <cstdint>
#include <functional>
#include <stop_token>
#include <vector>

#include "core/result.h"
#include "model/localmodel.h"
#include "model/sampler.h"

namespace corolla {

// The blocks of a whole model with the state of one sequence: each step appends positions.
class BlockRunner {
public:
    virtual ~BlockRunner() = default;
    // hidden [1, T, hiddenSize] for the next T positions -> the last block's output. A step
    // that waits (for a server, say) ends with a Cancelled error once `stop` is requested.
    virtual Result<at::Tensor> step(const at::Tensor &hidden, const std::stop_token &stop) = 0;
    // Positions held so far.
    virtual std::int64_t position() const = 0;
};

// A model's blocks on this machine, with a KV cache of `capacity` positions; deep prompts of
// every block, when given, are added to the first positions (see DeepPrompts), and a LoRA
// adapter, when given, to the projections it adapts.
class LocalBlockRunner : public BlockRunner {
public:
    LocalBlockRunner(const BlockSpan &blocks, std::int64_t capacity, DeepPrompts prompts = {},
                     const LoraAdapter *adapter = nullptr);
    Result<at::Tensor> step(const at::Tensor &hidden, const std::stop_token &stop) override;
    std::int64_t position() const override { return m_cache.lengths().front(); }

private:
    const BlockSpan &m_blocks;
    KvCache m_cache;
    DeepPrompts m_prompts;
    const LoraAdapter *m_adapter = nullptr;
};

struct GenerationOptions {
    std::int64_t maxNewTokens = 32;
    SamplingOptions sampling;
    std::vector<std::int64_t> stopTokenIds; // generation ends after emitting one of these
    std::stop_token stop;                   // checked before every step, and passed into it
    // Tokens the runner already holds from earlier turns: context for the repetition penalty.
    std::vector<std::int64_t> history;
};

struct GenerationStats {
    std::int64_t promptTokens = 0;
    std::int64_t generatedTokens = 0;
    double prefillSeconds = 0;     // prompt through the model up to the first token's logits
    double decodeSeconds = 0;      // every later step
    bool stopped = false;          // onToken asked to stop (a stop sequence, say), or `stop` did
    bool endedAtStopToken = false; // the last token was one of stopTokenIds
};

// Receives each token as soon as it is chosen; returns false to end the generation there.
using TokenSink = std::function<bool(std::int64_t)>;

// Generates after `prompt`, whose tokens go through `blocks` after what they already hold.
Result<GenerationStats> generate(const ClientHead &head, BlockRunner &blocks,
                                 const std::vector<std::int64_t> &prompt,
                                 const GenerationOptions &options, const TokenSink &onToken);

// The same on a LocalModel, with a fresh cache.
Result<GenerationStats> generate(const LocalModel &model, const std::vector<std::int64_t> &prompt,
                                 const GenerationOptions &options, const TokenSink &onToken);

} // namespace corolla
