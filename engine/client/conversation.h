#pragma once
// A chat with a model: the conversation is rendered with the model's chat template, and each
// turn feeds the blocks only what the template added since the last answer, so earlier
// turns stay in the KV caches (on this machine or on the servers of a swarm). When the
// conversation no longer extends what the caches hold (an edited message, a regenerated
// answer), a fresh sequence is started.
// Thread: the thread that calls it; a remote runner's calls block it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "model/generation.h"
#include "tokenizer/chattemplate.h"

namespace corolla {

class Tokenizer;

class Conversation {
public:
    // Opens blocks for a sequence of up to `maxLength` positions; any wait for them (for
    // servers, say) ends once `stop` is requested.
    using RunnerFactory = std::function<Result<std::unique_ptr<BlockRunner>>(
        std::int64_t maxLength, const std::stop_token &stop)>;

    // `modelStopIds`: the model config's end-of-sequence ids (the tokenizer's is added).
    static Result<std::unique_ptr<Conversation>>
    create(const Tokenizer &tokenizer, const ClientHead &head,
           std::vector<std::int64_t> modelStopIds, RunnerFactory newRunner, std::int64_t maxLength);

    struct Turn {
        std::string answer;
        GenerationStats stats;
        std::int64_t newPromptTokens = 0;
        std::int64_t reusedTokens = 0;
    };
    // Answers `messages` (ending with the user's message) and streams the answer's text
    // through onText, which returns false to stop there. Stop texts end the answer before
    // them. The returned turn holds the whole answer, also when stopped early.
    Result<Turn> answer(const nlohmann::ordered_json &messages, GenerationOptions options,
                        const std::vector<std::string> &stopTexts,
                        const std::function<bool(const std::string &)> &onText);
    // How many tokens `messages` (rendered with the generation prompt) would feed a fresh
    // sequence.
    Result<std::int64_t> promptTokens(const nlohmann::ordered_json &messages) const;
    // Forgets the held sequence; the next answer starts a fresh one.
    void reset();
    // The blocks of the current sequence (null before the first answer).
    BlockRunner *runner() const { return m_runner.get(); }

private:
    Conversation(const Tokenizer &tokenizer, const ClientHead &head, ChatTemplate chatTemplate,
                 RunnerFactory newRunner, std::int64_t maxLength);

    const Tokenizer &m_tokenizer;
    const ClientHead &m_head;
    ChatTemplate m_template;
    RunnerFactory m_newRunner;
    std::int64_t m_maxLength;
    std::vector<std::int64_t> m_stopIds;
    nlohmann::ordered_json m_variables = nlohmann::ordered_json::object();

    // The runner holds `m_held`: the conversation rendered up to the end of the last answer
    // (`m_heldText`), except the answer's last token (`m_pending`) when it was no stop token.
    // A new turn feeds only what the template adds after that text; answers are never
    // re-tokenized, so the caches stay exactly what the model produced.
    std::unique_ptr<BlockRunner> m_runner;
    std::vector<std::int64_t> m_held;
    std::string m_heldText;
    std::optional<std::int64_t> m_pending;
};

} // namespace corolla
