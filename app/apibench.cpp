// `corolla bench api`: a completion streamed through the OpenAI-compatible API (HTTP, JSON,
// server-sent events, read by a client on another thread) against the same completion run
// as `corolla generate` runs it, in turns in the same run on the same loaded model; prints
// one JSON object with both rates and their ratio.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include <QEventLoop>
#include <QHostAddress>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <nlohmann/json.hpp>

#include "api/apiserver.h"
#include "api/modelapibackend.h"
#include "app/benchoptions.h"
#include "app/commandparser.h"
#include "app/commands.h"
#include "model/localmodel.h"
#include "net/queuedcall.h"
#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSocketTimeoutMs = 600000; // a completion of a big model on few cores

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct ApiBenchCommand {
    BenchModelOptions model;
    std::string prompt;
    std::int64_t tokens = 64;
    int rounds = 3;
};

std::optional<ApiBenchCommand> parseApiBench(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("bench api"),
        QStringLiteral("Measures a completion streamed through the OpenAI-compatible API "
                       "against the same completion run directly by the engine (as `corolla "
                       "generate` does), in turns; prints one JSON object."));
    addBenchModelOptions(parser, QStringLiteral("tinyllama-1.1b"), QStringLiteral("bf16"));
    parser.addValueOptions({
        {"prompt", "TEXT", "the prompt",
         "The swarm serves every block of the model, one span per peer, and"},
        {"tokens", "N", "tokens to generate (fewer if the model ends its answer)", "64"},
        {"rounds", "N", "turns of each; the best of each is reported", "3"},
    });
    if (!parser.parse(arguments.mid(1), exitCode))
        return std::nullopt;
    ApiBenchCommand command;
    command.model = benchModelOptions(parser);
    command.prompt = parser.text(QStringLiteral("prompt"));
    command.tokens = parser.integer(QStringLiteral("tokens"), 1, 32768);
    command.rounds = int(parser.integer(QStringLiteral("rounds"), 1, 100));
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    return command;
}

struct Run {
    double seconds = 0;
    std::int64_t tokens = 0;
    std::string text;

    double rate() const { return double(tokens) / seconds; }
};

// The engine's own path: encode, generate greedily, decode each token to text.
Result<Run> runDirect(const LocalModel &model, const Tokenizer &tokenizer,
                      const ApiBenchCommand &command)
{
    const auto start = Clock::now();
    auto prompt = tokenizer.encode(command.prompt, SpecialTokens::Include);
    if (!prompt)
        return prompt.error();
    GenerationOptions options;
    options.maxNewTokens = command.tokens;
    options.sampling.temperature = 0;
    options.stopTokenIds = model.config().eosTokenIds;
    if (tokenizer.eosTokenId())
        options.stopTokenIds.push_back(*tokenizer.eosTokenId());
    LocalBlockRunner runner(model.blocks(), std::int64_t(prompt->size()) + command.tokens);
    IncrementalDecoder decoder(tokenizer, SpecialTokens::Omit);
    Run run;
    auto stats = generate(model.head(), runner, *prompt, options, [&](std::int64_t id) {
        auto piece = decoder.push(id);
        if (piece)
            run.text += *piece;
        return bool(piece);
    });
    if (!stats)
        return stats.error();
    if (auto rest = decoder.finish())
        run.text += *rest;
    run.seconds = secondsSince(start);
    run.tokens = stats->generatedTokens;
    return run;
}

// The text and usage of a streamed /v1/completions answer; an error when it has none.
Result<Run> parseStream(const QByteArray &data)
{
    Run run;
    bool done = false;
    for (QByteArray line : data.split('\n')) {
        line = line.trimmed();
        if (line == "data: [DONE]")
            done = true;
        if (!line.startsWith("data: {"))
            continue;
        const auto event = nlohmann::json::parse(line.mid(6).toStdString(), nullptr, false);
        if (!event.is_object() || event.contains("error"))
            return makeError(ErrorCode::Format, "the API answered " + line.toStdString());
        for (const auto &choice : event.value("choices", nlohmann::json::array()))
            run.text += choice.value("text", "");
        if (event.contains("usage") && event["usage"].is_object())
            run.tokens = event["usage"].value("completion_tokens", std::int64_t(0));
    }
    if (!done || run.tokens == 0)
        return makeError(ErrorCode::Format, "the stream ended without [DONE] and usage");
    return run;
}

// One streamed completion from a client with a blocking socket (on the calling thread).
Result<Run> runStreamed(quint16 port, const ApiBenchCommand &command)
{
    const nlohmann::json body = {{"model", "bench"},
                                 {"prompt", command.prompt},
                                 {"max_tokens", command.tokens},
                                 {"temperature", 0},
                                 {"stream", true},
                                 {"stream_options", {{"include_usage", true}}}};
    const QByteArray payload = QByteArray::fromStdString(body.dump());
    const auto start = Clock::now();
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(kSocketTimeoutMs))
        return makeError(ErrorCode::Io, "cannot connect to the API");
    socket.setSocketOption(QAbstractSocket::LowDelayOption, 1);
    socket.write("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                 "application/json\r\nContent-Length: "
                 + QByteArray::number(payload.size()) + "\r\n\r\n" + payload);
    QByteArray data;
    while (!data.contains("data: [DONE]")) {
        if (!socket.waitForReadyRead(kSocketTimeoutMs))
            return makeError(ErrorCode::Io, "the API stream stopped: " + data.toStdString());
        data += socket.readAll();
    }
    const double seconds = secondsSince(start);
    auto run = parseStream(data);
    if (run)
        run->seconds = seconds;
    return run;
}

int execute(const ApiBenchCommand &command)
{
    QTemporaryDir scratch;
    auto folder = benchModelFolder(command.model, scratch);
    if (!folder)
        return reportError("bench api", folder.error().toString());
    auto tokenizer = Tokenizer::load(*folder);
    if (!tokenizer)
        return reportError("bench api", tokenizer.error().toString());
    std::fprintf(stderr, "loading the model...\n");
    auto placement = resolvePlacement(command.model.device.device, command.model.device.backend);
    if (!placement)
        return reportError("bench api", placement.error().toString());
    auto model =
        LocalModel::open(*folder, command.model.dtype, command.model.quantization, *placement);
    if (!model)
        return reportError("bench api", model.error().toString());
    const LocalModel &local = **model;

    ModelApiBackend backend(
        **tokenizer, local.head(), local.config().eosTokenIds,
        [&local](std::int64_t length,
                 const std::stop_token &) -> Result<std::unique_ptr<BlockRunner>> {
            return std::unique_ptr<BlockRunner>(new LocalBlockRunner(local.blocks(), length));
        },
        "bench", local.config().maxPositions);
    ApiServer server(ApiOptions{}, backend);
    const quint16 port = server.listen(QHostAddress::LocalHost, 0);
    if (port == 0)
        return reportError("bench api", "cannot listen on 127.0.0.1");

    std::optional<Run> bestDirect, bestStreamed;
    auto keepBest = [](std::optional<Run> &best, const Run &run) {
        if (!best || run.rate() > best->rate())
            best = run;
    };
    // A warm-up of each, then turns: both see the same seconds of this machine.
    for (int round = 0; round <= command.rounds; ++round) {
        std::fprintf(stderr, "round %d of %d...\n", round, command.rounds);
        auto direct = runDirect(local, **tokenizer, command);
        if (!direct)
            return reportError("bench api", direct.error().toString());
        std::optional<Result<Run>> streamed;
        QEventLoop loop; // the server answers on this thread
        std::thread client([&] {
            streamed = runStreamed(port, command);
            postTo(&loop, [&loop] { loop.quit(); });
        });
        loop.exec();
        client.join();
        if (!*streamed)
            return reportError("bench api", streamed->error().toString());
        if ((*streamed)->text != direct->text || (*streamed)->tokens != direct->tokens)
            return reportError("bench api", "the API's answer differs from the engine's: \""
                                                + (*streamed)->text + "\" vs \"" + direct->text
                                                + "\"");
        if (round == 0)
            continue;
        keepBest(bestDirect, *direct);
        keepBest(bestStreamed, **streamed);
    }
    const nlohmann::json report = {
        {"benchmark", "api"},
        {"model", command.model.name()},
        {"dtype", computeDtypeName(command.model.dtype)},
        {"completion_tokens", bestDirect->tokens},
        {"rounds", command.rounds},
        {"generate_seconds", bestDirect->seconds},
        {"generate_tokens_per_s", bestDirect->rate()},
        {"api_stream_seconds", bestStreamed->seconds},
        {"api_stream_tokens_per_s", bestStreamed->rate()},
        {"api_ratio", bestStreamed->rate() / bestDirect->rate()},
    };
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

} // namespace

int runApiBench(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<ApiBenchCommand> command = parseApiBench(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
