#include "client/conversation.h"

#include <algorithm>

#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/stopsequences.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

bool startsWith(const std::string &text, const std::string &prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

Result<std::unique_ptr<Conversation>> Conversation::create(const Tokenizer &tokenizer,
                                                           const ClientHead &head,
                                                           std::vector<std::int64_t> modelStopIds,
                                                           RunnerFactory newRunner,
                                                           std::int64_t maxLength)
{
    auto chatTemplate = ChatTemplate::parse(tokenizer.chatTemplate());
    if (!chatTemplate)
        return chatTemplate.error();
    std::unique_ptr<Conversation> conversation(new Conversation(
        tokenizer, head, std::move(*chatTemplate), std::move(newRunner), maxLength));
    conversation->m_stopIds = std::move(modelStopIds);
    if (tokenizer.eosTokenId())
        conversation->m_stopIds.push_back(*tokenizer.eosTokenId());
    return conversation;
}

Conversation::Conversation(const Tokenizer &tokenizer, const ClientHead &head,
                           ChatTemplate chatTemplate, RunnerFactory newRunner,
                           std::int64_t maxLength)
    : m_tokenizer(tokenizer)
    , m_head(head)
    , m_template(std::move(chatTemplate))
    , m_newRunner(std::move(newRunner))
    , m_maxLength(maxLength)
{
    m_variables = chatTemplateVariables(tokenizer);
}

void Conversation::reset()
{
    m_runner.reset();
    m_held.clear();
    m_heldText.clear();
    m_pending.reset();
}

Result<std::int64_t> Conversation::promptTokens(const nlohmann::ordered_json &messages) const
{
    auto rendered = m_template.render(messages, true, m_variables);
    if (!rendered)
        return rendered.error();
    auto encoded = m_tokenizer.encode(*rendered, SpecialTokens::Omit);
    if (!encoded)
        return encoded.error();
    return std::int64_t(encoded->size());
}

Result<Conversation::Turn>
Conversation::answer(const nlohmann::ordered_json &messages, GenerationOptions options,
                     const std::vector<std::string> &stopTexts,
                     const std::function<bool(const std::string &)> &onText)
{
    auto rendered = m_template.render(messages, true, m_variables);
    if (!rendered)
        return rendered.error();
    const bool reuse = m_runner && startsWith(*rendered, m_heldText);
    auto encoded = m_tokenizer.encode(reuse ? rendered->substr(m_heldText.size()) : *rendered,
                                      SpecialTokens::Omit);
    if (!encoded)
        return encoded.error();
    std::vector<std::int64_t> fresh;
    if (reuse && m_pending)
        fresh.push_back(*m_pending);
    fresh.insert(fresh.end(), encoded->begin(), encoded->end());
    if (!reuse) {
        reset();
        auto opened = m_newRunner(m_maxLength, options.stop);
        if (!opened)
            return opened.error();
        m_runner = std::move(*opened);
    }
    if (std::int64_t(m_held.size() + fresh.size()) + options.maxNewTokens > m_maxLength)
        return makeError(ErrorCode::InvalidArgument,
                         "the conversation outgrew its maximum length of "
                             + std::to_string(m_maxLength) + " tokens; start a new one");
    options.history = m_held;
    options.stopTokenIds = m_stopIds;

    Turn turn;
    turn.newPromptTokens = std::int64_t(fresh.size());
    turn.reusedTokens = std::int64_t(m_held.size());
    IncrementalDecoder text(m_tokenizer, SpecialTokens::Omit);
    StopSequences stops(stopTexts);
    std::string decodeError;
    bool listening = true;
    std::vector<std::int64_t> generated;
    auto stats = generate(m_head, *m_runner, fresh, options, [&](std::int64_t token) {
        generated.push_back(token);
        auto piece = text.push(token);
        if (!piece) {
            decodeError = piece.error().toString();
            return false;
        }
        const std::string shown = stops.push(*piece);
        turn.answer += shown;
        listening = onText(shown);
        return listening && !stops.stopped();
    });
    if (!stats) {
        // The runner's state is unknown after a failed step: the next turn starts afresh.
        reset();
        return stats.error();
    }
    if (!decodeError.empty()) {
        reset();
        return makeError(ErrorCode::Internal, decodeError);
    }
    // A stop requested between two steps ends the answer like a caller that stops listening.
    if (options.stop.stop_requested())
        listening = false;
    if (!stops.stopped() && listening) {
        auto rest = text.finish();
        std::string tail = rest ? stops.push(*rest) : std::string();
        tail += stops.finish();
        turn.answer += tail;
        if (!tail.empty())
            onText(tail);
    }
    turn.stats = *stats;
    // The runner now holds the new tokens and every answer token but the last.
    m_held.insert(m_held.end(), fresh.begin(), fresh.end());
    m_held.insert(m_held.end(), generated.begin(), generated.end() - (generated.empty() ? 0 : 1));
    m_heldText = *rendered + turn.answer;
    m_pending.reset();
    if (!generated.empty()
        && std::find(m_stopIds.begin(), m_stopIds.end(), generated.back()) == m_stopIds.end())
        m_pending = generated.back();
    // An answer cut short (a stop text, the caller) may hold tokens past the text kept, or
    // text still held back by the decoder: the next turn starts afresh.
    if (stops.stopped() || !listening)
        reset();
    return turn;
}

} // namespace corolla
