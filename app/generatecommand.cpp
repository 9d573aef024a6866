// generate: one prompt, the answer streamed to stdout; the blocks on this machine or on a
// swarm (--swarm). stdout carries only the generated output, identical either way.

#include <cstdio>
#include <optional>

#include "app/clientoptions.h"
#include "app/commands.h"
#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/stopsequences.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

int runGenerate(const QStringList &arguments)
{
    CommandParser parser(
        QStringLiteral("generate"),
        QStringLiteral("Generates tokens, streaming them to stdout; statistics and the "
                       "route go to stderr. The blocks run on this machine, or on a "
                       "swarm with --swarm."));
    parser.addValueOption(QStringLiteral("model"), QStringLiteral("DIR"),
                          QStringLiteral("checkpoint folder"));
    parser.addValueOption(QStringLiteral("dtype"), QStringLiteral("fp32|bf16"),
                          QStringLiteral("compute dtype on this machine"), QStringLiteral("fp32"));
    parser.addValueOption(QStringLiteral("ids"), QStringLiteral("LIST"),
                          QStringLiteral("prompt token ids"));
    parser.addValueOption(QStringLiteral("prompt"), QStringLiteral("TEXT"),
                          QStringLiteral("prompt text"));
    parser.addValueOption(
        QStringLiteral("stop"), QStringLiteral("TEXT"),
        QStringLiteral("end the answer before this text (repeatable; with --prompt)"));
    addSamplingOptions(parser, QStringLiteral("32"));
    addSwarmClientOptions(parser);
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    parser.requireOneOf({QStringLiteral("ids"), QStringLiteral("prompt")});
    GenerationOptions options = generationOptions(parser);
    std::vector<std::int64_t> prompt;
    if (parser.isSet(QStringLiteral("ids")))
        prompt = parser.idList(QStringLiteral("ids"));
    std::vector<std::string> stopTexts;
    for (const QString &stop : parser.values(QStringLiteral("stop")))
        stopTexts.push_back(stop.toStdString());
    if (!stopTexts.empty() && !parser.isSet(QStringLiteral("prompt")))
        parser.error(QStringLiteral("--stop applies to text: use it with --prompt"));
    if (parser.failed())
        return 2;
    // A text prompt is encoded with the model's tokenizer (special tokens such as BOS added)
    // and the answer streams as text; token ids in give token ids out.
    std::unique_ptr<Tokenizer> tokenizer;
    if (parser.isSet(QStringLiteral("prompt"))) {
        auto loaded = Tokenizer::load(parser.text(QStringLiteral("model")));
        if (!loaded)
            return reportError("generate", loaded.error().toString());
        tokenizer = std::move(loaded).value();
        auto encoded = tokenizer->encode(parser.value(QStringLiteral("prompt")).toStdString(),
                                         SpecialTokens::Include);
        if (!encoded)
            return reportError("generate", encoded.error().toString());
        prompt = std::move(encoded).value();
        if (prompt.empty())
            return reportError("generate", "the prompt encodes to no tokens");
    }
    auto model = ModelBackend::open(parser);
    if (!model)
        return reportError("generate", model.error().toString());
    options.stopTokenIds = (*model)->config().eosTokenIds;
    if (tokenizer && tokenizer->eosTokenId())
        options.stopTokenIds.push_back(*tokenizer->eosTokenId());
    auto session = (*model)->newSession(std::int64_t(prompt.size()) + options.maxNewTokens);
    if (!session)
        return reportError("generate", session.error().toString());
    auto *remote = dynamic_cast<RemoteSession *>(session->get());
    if (remote)
        std::fprintf(stderr, "route: %s\n", remote->routeText().c_str());
    std::fflush(stderr);

    bool first = true;
    std::optional<IncrementalDecoder> text;
    if (tokenizer)
        text.emplace(*tokenizer, SpecialTokens::Omit);
    StopSequences stops(stopTexts);
    std::string decodeError;
    auto stats = generate((*model)->head(), **session, prompt, options, [&](std::int64_t token) {
        if (text) {
            auto piece = text->push(token);
            if (piece)
                std::fputs(stops.push(*piece).c_str(), stdout);
            else if (decodeError.empty())
                decodeError = piece.error().toString();
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
    if (!decodeError.empty())
        return reportError("generate", decodeError);
    if (!stats)
        return reportError("generate", stats.error().toString());
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
    return 0;
}

} // namespace corolla
