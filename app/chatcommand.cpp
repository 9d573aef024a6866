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
#include "tokenizer/chattemplate.h"
#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/stopsequences.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

std::string tokenText(const Tokenizer &tokenizer, std::optional<std::int64_t> id)
{
    if (!id)
        return "";
    auto text = tokenizer.decode({*id}, false);
    return text ? *text : "";
}

bool startsWith(const std::string &text, const std::string &prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

int runChat(const QStringList &arguments)
{
    CommandParser parser(QStringLiteral("chat"),
                         QStringLiteral("Chats with a model in the terminal: type a message and Enter; "
                                        "/reset starts over, /exit (or end of input) quits. The blocks run "
                                        "on this machine, or on a swarm with --swarm."));
    parser.addValueOption(QStringLiteral("model"), QStringLiteral("DIR"), QStringLiteral("checkpoint folder"));
    parser.addValueOption(QStringLiteral("dtype"), QStringLiteral("fp32|bf16"),
                          QStringLiteral("compute dtype on this machine"), QStringLiteral("bf16"));
    parser.addValueOption(QStringLiteral("system"), QStringLiteral("TEXT"), QStringLiteral("a system prompt"));
    parser.addValueOption(QStringLiteral("max-length"), QStringLiteral("N"),
                          QStringLiteral("tokens a conversation may hold"), QStringLiteral("2048"));
    parser.addValueOption(QStringLiteral("stop"), QStringLiteral("TEXT"),
                          QStringLiteral("end an answer before this text (repeatable)"));
    addSamplingOptions(parser, QStringLiteral("512"));
    addSwarmClientOptions(parser);
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    GenerationOptions options = generationOptions(parser);
    const std::int64_t maxLength = parser.integer(QStringLiteral("max-length"), 16, 1 << 20);
    if (parser.failed())
        return 2;
    auto tokenizer = Tokenizer::load(parser.text(QStringLiteral("model")));
    if (!tokenizer)
        return reportError("chat", tokenizer.error().toString());
    auto chatTemplate = ChatTemplate::parse((*tokenizer)->chatTemplate());
    if (!chatTemplate)
        return reportError("chat", chatTemplate.error().toString());
    auto model = ModelBackend::open(parser);
    if (!model)
        return reportError("chat", model.error().toString());
    options.stopTokenIds = (*model)->config().eosTokenIds;
    if ((*tokenizer)->eosTokenId())
        options.stopTokenIds.push_back(*(*tokenizer)->eosTokenId());
    nlohmann::ordered_json variables = nlohmann::ordered_json::object();
    variables["bos_token"] = tokenText(**tokenizer, (*tokenizer)->bosTokenId());
    variables["eos_token"] = tokenText(**tokenizer, (*tokenizer)->eosTokenId());

    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (parser.isSet(QStringLiteral("system")))
        messages.push_back({{"role", "system"}, {"content", parser.text(QStringLiteral("system"))}});
    const nlohmann::ordered_json initialMessages = messages;
    // The session's caches hold `held`: the conversation rendered up to the end of the last
    // answer (`heldText`), except the answer's last token (`pending`) when it was no stop
    // token. A new turn feeds only what the template adds after that text; answers are never
    // re-tokenized, so the caches stay exactly what the model produced.
    std::unique_ptr<BlockRunner> session;
    std::vector<std::int64_t> held;
    std::string heldText;
    std::optional<std::int64_t> pending;

    std::fprintf(stderr, "Chatting with %s%s. /reset starts over, /exit quits.\n",
                 parser.text(QStringLiteral("model")).c_str(), (*model)->isSwarm() ? " on the swarm" : "");
    std::string line;
    for (;;) {
        std::printf("> ");
        std::fflush(stdout);
        if (!std::getline(std::cin, line) || line == "/exit")
            break;
        if (line == "/reset") {
            messages = initialMessages;
            session.reset();
            held.clear();
            heldText.clear();
            pending.reset();
            continue;
        }
        if (line.empty())
            continue;
        messages.push_back({{"role", "user"}, {"content", line}});
        auto rendered = chatTemplate->render(messages, true, variables);
        if (!rendered)
            return reportError("chat", rendered.error().toString());
        const bool reuse = session && startsWith(*rendered, heldText);
        auto encoded = (*tokenizer)->encode(reuse ? rendered->substr(heldText.size()) : *rendered, false);
        if (!encoded)
            return reportError("chat", encoded.error().toString());
        std::vector<std::int64_t> fresh;
        if (reuse && pending)
            fresh.push_back(*pending);
        fresh.insert(fresh.end(), encoded->begin(), encoded->end());
        if (!reuse) {
            held.clear();
            auto opened = (*model)->newSession(maxLength);
            if (!opened)
                return reportError("chat", opened.error().toString());
            session = std::move(*opened);
        }
        if (std::int64_t(held.size() + fresh.size()) + options.maxNewTokens > maxLength)
            return reportError("chat", "the conversation outgrew --max-length; /reset or raise it");
        options.history = held;

        IncrementalDecoder text(**tokenizer, /*skipSpecialTokens=*/true);
        std::vector<std::string> stopTexts;
        for (const QString &stop : parser.values(QStringLiteral("stop")))
            stopTexts.push_back(stop.toStdString());
        StopSequences stops(stopTexts);
        std::string answer, decodeError;
        std::vector<std::int64_t> generated;
        auto stats = generate((*model)->head(), *session, fresh, options, [&](std::int64_t token) {
            generated.push_back(token);
            auto piece = text.push(token);
            if (!piece) {
                decodeError = piece.error().toString();
                return false;
            }
            const std::string shown = stops.push(*piece);
            answer += shown;
            std::fputs(shown.c_str(), stdout);
            std::fflush(stdout);
            return !stops.stopped();
        });
        if (!stops.stopped()) {
            auto rest = text.finish();
            std::string tail = rest ? stops.push(*rest) : std::string();
            tail += stops.finish();
            answer += tail;
            std::fputs(tail.c_str(), stdout);
        }
        std::printf("\n");
        if (!stats)
            return reportError("chat", stats.error().toString());
        if (!decodeError.empty())
            return reportError("chat", decodeError);
        // The session now holds the new tokens and every answer token but the last.
        held.insert(held.end(), fresh.begin(), fresh.end());
        held.insert(held.end(), generated.begin(), generated.end() - (generated.empty() ? 0 : 1));
        heldText = *rendered + answer;
        pending.reset();
        if (!generated.empty()
            && std::find(options.stopTokenIds.begin(), options.stopTokenIds.end(), generated.back())
                == options.stopTokenIds.end())
            pending = generated.back();
        messages.push_back({{"role", "assistant"}, {"content", answer}});

        const double rate = stats->generatedTokens > 1 && stats->decodeSeconds > 0
            ? double(stats->generatedTokens - 1) / stats->decodeSeconds
            : 0.0;
        std::fprintf(stderr, "[%lld new prompt tokens, %lld reused; %lld answer tokens, first after %.0f ms, %.1f tokens/s",
                     static_cast<long long>(fresh.size()),
                     static_cast<long long>(options.history.size()),
                     static_cast<long long>(stats->generatedTokens), stats->prefillSeconds * 1000.0, rate);
        if (auto *remote = dynamic_cast<RemoteSession *>(session.get()))
            std::fprintf(stderr, "; route: %s", remote->routeText().c_str());
        std::fprintf(stderr, "]\n");
    }
    std::printf("\n");
    return 0;
}

} // namespace corolla
