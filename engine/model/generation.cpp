#include "model/generation.h"

#include <algorithm>
#include <chrono>

#include <ATen/ops/tensor.h>

namespace corolla {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

LocalBlockRunner::LocalBlockRunner(const BlockSpan &blocks, std::int64_t capacity,
                                   DeepPrompts prompts, const LoraAdapter *adapter)
    : m_blocks(blocks)
    , m_cache(blocks.makeCache(1, capacity))
    , m_prompts(std::move(prompts))
    , m_adapter(adapter)
{
}

// A local step never waits, so it is never interrupted.
Result<at::Tensor> LocalBlockRunner::step(const at::Tensor &hidden, const std::stop_token &)
{
    return m_blocks.step(hidden, m_cache, {hidden.size(1)}, m_blocks.begin(), m_blocks.end(),
                         {.prompts = m_prompts, .adapter = m_adapter});
}

Result<GenerationStats> generate(const ClientHead &head, BlockRunner &blocks,
                                 const std::vector<std::int64_t> &prompt,
                                 const GenerationOptions &options, const TokenSink &onToken)
{
    if (prompt.empty())
        return makeError(ErrorCode::InvalidArgument, "the prompt has no tokens");
    if (options.maxNewTokens < 0)
        return makeError(ErrorCode::InvalidArgument, "max_new_tokens must not be negative");
    Sampler sampler(options.sampling);
    std::vector<std::int64_t> context = options.history;
    context.insert(context.end(), prompt.begin(), prompt.end());
    GenerationStats stats;
    stats.promptTokens = std::int64_t(prompt.size());

    auto start = std::chrono::steady_clock::now();
    at::Tensor input = at::tensor(prompt, at::kLong).view({1, -1});
    while (stats.generatedTokens < options.maxNewTokens) {
        if (options.stop.stop_requested()) {
            stats.stopped = true;
            break;
        }
        auto hidden = head.embed(input);
        if (!hidden)
            return hidden.error();
        auto output = blocks.step(*hidden, options.stop);
        if (!output)
            return output.error();
        // The one wait per token on a GPU: the sampler reads the logits on the host.
        const at::Tensor logits = toHost(head.logits(output->select(1, input.size(1) - 1))[0]);
        const std::int64_t token = sampler.next(logits, context);
        if (stats.generatedTokens == 0) {
            stats.prefillSeconds = secondsSince(start);
            start = std::chrono::steady_clock::now();
        }
        ++stats.generatedTokens;
        context.push_back(token);
        if (!onToken(token)) {
            stats.stopped = true;
            break;
        }
        if (std::find(options.stopTokenIds.begin(), options.stopTokenIds.end(), token)
            != options.stopTokenIds.end()) {
            stats.endedAtStopToken = true;
            break;
        }
        input = at::tensor(std::vector<std::int64_t>{token}, at::kLong).view({1, 1});
    }
    if (stats.generatedTokens > 1)
        stats.decodeSeconds = secondsSince(start);
    return stats;
}

Result<GenerationStats> generate(const LocalModel &model, const std::vector<std::int64_t> &prompt,
                                 const GenerationOptions &options, const TokenSink &onToken)
{
    LocalBlockRunner blocks(model.blocks(), std::int64_t(prompt.size()) + options.maxNewTokens);
    return generate(model.head(), blocks, prompt, options, onToken);
}

} // namespace corolla
