#include "api/modelapibackend.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include <QDir>

#include "hub/hubcache.h"
#include "model/clienthead.h"
#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/stopsequences.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

// Ended at max_tokens (or the context), not at a stop token, a stop text or a cancel.
bool endedAtLength(const GenerationStats &stats, std::int64_t maxNewTokens)
{
    return !stats.stopped && !stats.endedAtStopToken && stats.generatedTokens >= maxNewTokens;
}

Error clientWentAway()
{
    return makeError(ErrorCode::Cancelled, "the client went away");
}

} // namespace

ModelApiBackend::ModelApiBackend(const Tokenizer &tokenizer, const ClientHead &head,
                                 std::vector<std::int64_t> modelStopIds,
                                 Conversation::RunnerFactory newRunner, std::string id,
                                 std::int64_t maxLength)
    : m_tokenizer(tokenizer)
    , m_head(head)
    , m_modelStopIds(std::move(modelStopIds))
    , m_newRunner(std::move(newRunner))
    , m_id(std::move(id))
    , m_maxLength(maxLength)
    , m_created(std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count())
{
}

Result<CompletionResult>
ModelApiBackend::complete(const CompletionRequest &request,
                          const std::function<bool(const std::string &)> &onText,
                          const std::stop_token &stop)
{
    GenerationOptions options;
    options.sampling.temperature = request.temperature;
    options.sampling.topP = request.topP;
    options.sampling.seed = request.seed ? *request.seed : drawSeed();
    options.stop = stop;
    switch (request.kind) {
    case CompletionKind::Chat: return chat(request, options, onText);
    case CompletionKind::Text: return text(request, options, onText);
    }
    return makeError(ErrorCode::InvalidArgument, "unknown completion kind");
}

Result<std::int64_t> ModelApiBackend::newTokens(const CompletionRequest &request,
                                                std::int64_t promptTokens) const
{
    const std::int64_t room = m_maxLength - promptTokens;
    if (room < 1)
        return makeError(ErrorCode::InvalidArgument,
                         "the prompt holds " + std::to_string(promptTokens)
                             + " tokens; this server's context is " + std::to_string(m_maxLength));
    return std::min(room, request.maxTokens.value_or(room));
}

Result<CompletionResult>
ModelApiBackend::chat(const CompletionRequest &request, GenerationOptions options,
                      const std::function<bool(const std::string &)> &onText)
{
    auto conversation =
        Conversation::create(m_tokenizer, m_head, m_modelStopIds, m_newRunner, m_maxLength);
    if (!conversation)
        return conversation.error();
    auto promptTokens = (*conversation)->promptTokens(request.messages);
    if (!promptTokens)
        return promptTokens.error();
    auto limit = newTokens(request, *promptTokens);
    if (!limit)
        return limit.error();
    options.maxNewTokens = *limit;
    auto turn = (*conversation)->answer(request.messages, options, request.stop, onText);
    if (!turn)
        return turn.error();
    if (options.stop.stop_requested())
        return clientWentAway();
    return CompletionResult{turn->newPromptTokens, turn->stats.generatedTokens,
                            endedAtLength(turn->stats, options.maxNewTokens)};
}

Result<CompletionResult>
ModelApiBackend::text(const CompletionRequest &request, GenerationOptions options,
                      const std::function<bool(const std::string &)> &onText)
{
    auto prompt = m_tokenizer.encode(request.prompt, SpecialTokens::Include);
    if (!prompt)
        return prompt.error();
    if (prompt->empty())
        return makeError(ErrorCode::InvalidArgument, "the prompt encodes to no tokens");
    auto limit = newTokens(request, std::int64_t(prompt->size()));
    if (!limit)
        return limit.error();
    options.maxNewTokens = *limit;
    options.stopTokenIds = m_modelStopIds;
    if (m_tokenizer.eosTokenId())
        options.stopTokenIds.push_back(*m_tokenizer.eosTokenId());
    auto runner = m_newRunner(std::int64_t(prompt->size()) + options.maxNewTokens, options.stop);
    if (!runner)
        return runner.error();

    IncrementalDecoder decoder(m_tokenizer, SpecialTokens::Omit);
    StopSequences stops(request.stop);
    std::optional<Error> decodeError;
    bool listening = true;
    auto stats = generate(m_head, **runner, *prompt, options, [&](std::int64_t id) {
        auto piece = decoder.push(id);
        if (!piece) {
            decodeError = piece.error();
            return false;
        }
        listening = onText(stops.push(*piece));
        return listening && !stops.stopped();
    });
    if (!stats)
        return stats.error();
    if (decodeError)
        return *decodeError;
    if (options.stop.stop_requested())
        return clientWentAway();
    if (listening && !stops.stopped()) {
        auto rest = decoder.finish();
        const std::string tail = (rest ? stops.push(*rest) : std::string()) + stops.finish();
        if (!tail.empty())
            onText(tail);
    }
    return CompletionResult{std::int64_t(prompt->size()), stats->generatedTokens,
                            endedAtLength(*stats, options.maxNewTokens)};
}

std::uint64_t ModelApiBackend::drawSeed()
{
    const std::lock_guard lock(m_seedMutex);
    return m_seeds();
}

std::string apiModelId(const std::string &argument, const std::string &folder)
{
    if (looksLikeRepoRef(argument))
        return parseRepoRef(argument)->repo;
    const std::optional<SnapshotLocation> snapshot =
        snapshotLocation(QString::fromStdString(folder));
    if (snapshot)
        return snapshot->repo;
    return QDir(QString::fromStdString(folder)).dirName().toStdString();
}

} // namespace corolla
