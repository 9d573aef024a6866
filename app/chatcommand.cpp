// chat: an interactive conversation in the terminal, with the model's chat template, on this
// machine or on a swarm. Each turn feeds only the new tokens: the session keeps the earlier
// turns in its KV caches, here or on the servers.

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/events.h"
#include "client/conversation.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

// What `corolla chat` runs with.
struct ChatCommand {
    ClientModelOptions model;
    GenerationOptions generation;
    std::int64_t maxLength = 0;
    std::optional<std::string> systemPrompt;
    std::vector<std::string> stopTexts;
};

std::optional<ChatCommand> parseChat(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("chat"),
        QStringLiteral("Chats with a model in the terminal: type a message and Enter; "
                       "/reset starts over, /exit (or end of input) quits. The blocks run "
                       "on this machine, or on a swarm with --swarm."));
    addClientModelOptions(parser, QStringLiteral("bf16"));
    parser.addValueOptions({
        {"system", "TEXT", "a system prompt"},
        {"max-length", "N", "tokens a conversation may hold", "2048"},
        {"stop", "TEXT", "end an answer before this text (repeatable)"},
    });
    addSamplingOptions(parser, QStringLiteral("512"));
    addEventsOption(parser);
    if (!parser.parse(arguments, exitCode))
        return std::nullopt;
    enableEvents(parser);
    parser.require(QStringLiteral("model"));
    ChatCommand command;
    command.generation = generationOptions(parser);
    command.maxLength = parser.integer(QStringLiteral("max-length"), 16, 1 << 20);
    if (parser.isSet(QStringLiteral("system")))
        command.systemPrompt = parser.text(QStringLiteral("system"));
    for (const QString &stop : parser.values(QStringLiteral("stop")))
        command.stopTexts.push_back(stop.toStdString());
    auto model = clientModelOptions(parser, "chat", exitCode);
    if (!model)
        return std::nullopt;
    command.model = std::move(*model);
    return command;
}

int execute(const ChatCommand &command)
{
    auto tokenizer = Tokenizer::load(command.model.modelDir);
    if (!tokenizer)
        return reportError("chat", tokenizer.error().toString());
    auto model = ModelBackend::open(command.model);
    if (!model)
        return reportError("chat", model.error().toString());
    auto conversation = Conversation::create(
        **tokenizer, (*model)->head(), (*model)->config().eosTokenIds,
        [&model](std::int64_t length, const std::stop_token &stop) {
            return (*model)->newSession(length, stop);
        },
        command.maxLength);
    if (!conversation)
        return reportError("chat", conversation.error().toString());

    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (command.systemPrompt)
        messages.push_back({{"role", "system"}, {"content", *command.systemPrompt}});
    const nlohmann::ordered_json initialMessages = messages;

    std::fprintf(stderr, "Chatting with %s%s. /reset starts over, /exit quits.\n",
                 command.model.modelDir.c_str(), (*model)->isSwarm() ? " on the swarm" : "");
    std::string line;
    for (;;) {
        std::printf("> ");
        std::fflush(stdout);
        if (!std::getline(std::cin, line) || line == "/exit")
            break;
        if (line == "/reset") {
            messages = initialMessages;
            (*conversation)->reset();
            continue;
        }
        if (line.empty())
            continue;
        messages.push_back({{"role", "user"}, {"content", line}});
        auto turn = (*conversation)
                        ->answer(messages, command.generation, command.stopTexts,
                                 [](const std::string &piece) {
                                     std::fputs(piece.c_str(), stdout);
                                     std::fflush(stdout);
                                     return true;
                                 });
        std::printf("\n");
        if (!turn)
            return reportError("chat", turn.error().toString());
        messages.push_back({{"role", "assistant"}, {"content", turn->answer}});

        const GenerationStats &stats = turn->stats;
        const double rate = stats.generatedTokens > 1 && stats.decodeSeconds > 0
                                ? double(stats.generatedTokens - 1) / stats.decodeSeconds
                                : 0.0;
        std::fprintf(stderr,
                     "[%lld new prompt tokens, %lld reused; %lld answer tokens, first after %.0f "
                     "ms, %.1f tokens/s",
                     static_cast<long long>(turn->newPromptTokens),
                     static_cast<long long>(turn->reusedTokens),
                     static_cast<long long>(stats.generatedTokens), stats.prefillSeconds * 1000.0,
                     rate);
        nlohmann::json event{{"new_prompt_tokens", turn->newPromptTokens},
                             {"reused_tokens", turn->reusedTokens},
                             {"generated_tokens", stats.generatedTokens}};
        if (auto *remote = dynamic_cast<RemoteSession *>((*conversation)->runner())) {
            std::fprintf(stderr, "; route: %s", remote->routeText().c_str());
            event["hops"] = routeJson(*remote);
        }
        std::fprintf(stderr, "]\n");
        emitEvent("turn", event);
    }
    std::printf("\n");
    return 0;
}

} // namespace

int runChat(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<ChatCommand> command = parseChat(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
