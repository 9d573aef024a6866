// generate: one prompt, the answer streamed to stdout; the blocks on this machine or on a
// swarm (--swarm). stdout carries only the generated output, identical either way.

#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/events.h"
#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/stopsequences.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

// What `corolla generate` runs with.
struct GenerateCommand {
    ClientModelOptions model;
    GenerationOptions generation;
    std::vector<std::int64_t> promptIds;   // --ids
    std::optional<std::string> promptText; // --prompt
    std::vector<std::string> stopTexts;
};

std::optional<GenerateCommand> parseGenerate(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("generate"),
        QStringLiteral("Generates tokens, streaming them to stdout; statistics and the "
                       "route go to stderr. The blocks run on this machine, or on a "
                       "swarm with --swarm."));
    addClientModelOptions(parser, QStringLiteral("fp32"));
    parser.addValueOptions({
        {"ids", "LIST", "prompt token ids"},
        {"prompt", "TEXT", "prompt text"},
        {"stop", "TEXT", "end the answer before this text (repeatable; with --prompt)"},
    });
    addSamplingOptions(parser, QStringLiteral("32"));
    addEventsOption(parser);
    if (!parser.parse(arguments, exitCode))
        return std::nullopt;
    enableEvents(parser);
    parser.require(QStringLiteral("model"));
    parser.requireOneOf({QStringLiteral("ids"), QStringLiteral("prompt")});
    GenerateCommand command;
    command.generation = generationOptions(parser);
    if (parser.isSet(QStringLiteral("ids")))
        command.promptIds = parser.idList(QStringLiteral("ids"));
    if (parser.isSet(QStringLiteral("prompt")))
        command.promptText = parser.text(QStringLiteral("prompt"));
    for (const QString &stop : parser.values(QStringLiteral("stop")))
        command.stopTexts.push_back(stop.toStdString());
    if (!command.stopTexts.empty() && !command.promptText)
        parser.error(QStringLiteral("--stop applies to text: use it with --prompt"));
    auto model = clientModelOptions(parser, "generate", exitCode);
    if (!model)
        return std::nullopt;
    command.model = std::move(*model);
    return command;
}

int fail(const Error &error)
{
    return reportFailure("generate", error);
}

int execute(const GenerateCommand &command)
{
    GenerationOptions options = command.generation;
    std::vector<std::int64_t> prompt = command.promptIds;
    // A text prompt is encoded with the model's tokenizer (special tokens such as BOS added)
    // and the answer streams as text; token ids in give token ids out.
    std::unique_ptr<Tokenizer> tokenizer;
    if (command.promptText) {
        auto loaded = Tokenizer::load(command.model.modelDir);
        if (!loaded)
            return fail(loaded.error());
        tokenizer = std::move(loaded).value();
        auto encoded = tokenizer->encode(*command.promptText, SpecialTokens::Include);
        if (!encoded)
            return fail(encoded.error());
        prompt = std::move(encoded).value();
        if (prompt.empty())
            return fail(makeError(ErrorCode::InvalidArgument, "the prompt encodes to no tokens"));
    }
    auto model = ModelBackend::open(command.model);
    if (!model)
        return fail(model.error());
    options.stopTokenIds = (*model)->config().eosTokenIds;
    if (tokenizer && tokenizer->eosTokenId())
        options.stopTokenIds.push_back(*tokenizer->eosTokenId());
    auto session = (*model)->newSession(std::int64_t(prompt.size()) + options.maxNewTokens);
    if (!session)
        return fail(session.error());
    auto *remote = dynamic_cast<RemoteSession *>(session->get());
    if (remote) {
        std::fprintf(stderr, "route: %s\n", remote->routeText().c_str());
        emitEvent("route", {{"hops", routeJson(*remote)}});
    }
    std::fflush(stderr);

    bool first = true;
    std::optional<IncrementalDecoder> text;
    if (tokenizer)
        text.emplace(*tokenizer, SpecialTokens::Omit);
    StopSequences stops(command.stopTexts);
    std::optional<Error> decodeError;
    auto stats = generate((*model)->head(), **session, prompt, options, [&](std::int64_t token) {
        if (text) {
            auto piece = text->push(token);
            if (piece)
                std::fputs(stops.push(*piece).c_str(), stdout);
            else if (!decodeError)
                decodeError = piece.error();
        } else {
            std::printf(first ? "%lld" : " %lld", static_cast<long long>(token));
        }
        std::fflush(stdout);
        first = false;
        return !stops.stopped();
    });
    if (text && !stops.stopped()) {
        if (auto rest = text->finish(); rest)
            std::fputs(stops.push(*rest).c_str(), stdout);
        std::fputs(stops.finish().c_str(), stdout);
    }
    std::printf("\n");
    std::fflush(stdout);
    if (decodeError)
        return fail(*decodeError);
    if (!stats)
        return fail(stats.error());
    const double decodeRate = stats->generatedTokens > 1 && stats->decodeSeconds > 0
                                  ? double(stats->generatedTokens - 1) / stats->decodeSeconds
                                  : 0.0;
    std::fprintf(
        stderr,
        "prompt %lld tokens, generated %lld; first token after %.1f ms, then %.2f tokens/s\n",
        static_cast<long long>(stats->promptTokens), static_cast<long long>(stats->generatedTokens),
        stats->prefillSeconds * 1000.0, decodeRate);
    if (remote && remote->failovers() > 0)
        std::fprintf(stderr, "recovered from %d failed server(s); route now: %s\n",
                     remote->failovers(), remote->routeText().c_str());
    nlohmann::json finished{{"prompt_tokens", stats->promptTokens},
                            {"generated_tokens", stats->generatedTokens}};
    if (remote) {
        finished["failovers"] = remote->failovers();
        finished["hops"] = routeJson(*remote);
    }
    emitEvent("finished", finished);
    return 0;
}

} // namespace

int runGenerate(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<GenerateCommand> command = parseGenerate(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
