// bench swarm: decode and prefill through N server processes on this machine, against the
// same model run locally in the same run; optionally with a delay on every hop.

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include <ATen/ATen.h>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>
#include <nlohmann/json.hpp>

#include "app/benchoptions.h"
#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/serverprocesses.h"
#include "loader/checkpoint.h"
#include "net/tensorcodec.h"

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
    double prefillSeconds = 0.0; // the prompt through every block and the LM head
    double decodeSeconds = 0.0;  // decodeTokens single-token steps
};

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The same work for local and swarm runs: prefill, then greedy single-token steps, with
// `pauseMs` of idleness before each step when asked (see idle_floor_ms).
Result<Timing> timeRun(const ClientHead &head, BlockRunner &blocks, const at::Tensor &prompt,
                       std::int64_t decodeTokens, int pauseMs = 0)
{
    Timing timing;
    auto start = Clock::now();
    auto hidden = head.embed(prompt);
    if (!hidden)
        return hidden.error();
    auto output = blocks.step(*hidden, {});
    if (!output)
        return output.error();
    std::int64_t token =
        head.logits(output->select(1, prompt.size(1) - 1)).argmax(-1).item<std::int64_t>();
    timing.prefillSeconds = secondsSince(start);
    double paused = 0.0;
    start = Clock::now();
    for (std::int64_t i = 0; i < decodeTokens; ++i) {
        if (pauseMs > 0) {
            const auto pauseStart = Clock::now();
            std::this_thread::sleep_for(std::chrono::milliseconds(pauseMs));
            paused += secondsSince(pauseStart);
        }
        hidden = head.embed(at::full({1, 1}, token, at::kLong));
        if (!hidden)
            return hidden.error();
        output = blocks.step(*hidden, {});
        if (!output)
            return output.error();
        token = head.logits(output->select(1, 0)).argmax(-1).item<std::int64_t>();
    }
    timing.decodeSeconds = secondsSince(start) - paused;
    return timing;
}

QString defaultRelayProgram()
{
    // Built with the tests, next to the app in a build folder.
    return QDir(QCoreApplication::applicationDirPath())
        .filePath(QStringLiteral("../tests/corolla-delay-relay"));
}

// What `corolla bench swarm` runs with.
struct SwarmBenchCommand {
    BenchModelOptions model;
    std::int64_t serverCount = 0;
    int delayMs = 0;
    std::int64_t promptTokens = 0, decodeTokens = 0;
    int rounds = 0;
    proto::Codec wire = proto::CODEC_FP32;
    QString relay;
};

std::optional<SwarmBenchCommand> parseSwarmBench(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("bench swarm"),
        QStringLiteral("Starts N servers on 127.0.0.1 with equal shares of the blocks and "
                       "measures decode and prefill through them against the same model "
                       "run locally in the same run; prints one JSON object."));
    addBenchModelOptions(parser, QStringLiteral("tinyllama-1.1b"), QStringLiteral("bf16"));
    parser.addValueOptions({
        {"servers", "N", "server processes", "3"},
        {"delay-ms", "D", "added one way on every connection to a server", "0"},
    });
    addWireDtypeOption(parser);
    parser.addValueOptions({
        {"prompt-tokens", "N", "prefill length", "128"},
        {"decode-tokens", "N", "decode steps", "32"},
        {"rounds", "N", "local and swarm runs, alternating; the best of each counts", "3"},
        {"relay", "PATH", "the delaying relay program (built with the tests)"},
    });
    if (!parser.parse(arguments.mid(1), exitCode))
        return std::nullopt;
    SwarmBenchCommand command;
    command.model = benchModelOptions(parser);
    command.serverCount = parser.integer(QStringLiteral("servers"), 1, 64);
    command.delayMs = int(parser.integer(QStringLiteral("delay-ms"), 0, 10000));
    command.promptTokens = parser.integer(QStringLiteral("prompt-tokens"), 1, 32768);
    command.decodeTokens = parser.integer(QStringLiteral("decode-tokens"), 1, 32768);
    command.rounds = int(parser.integer(QStringLiteral("rounds"), 1, 100));
    if (auto wire = wireCodec(parser, command.model.dtype))
        command.wire = *wire;
    else
        parser.error(QString::fromStdString(wire.error().message));
    command.relay = parser.isSet(QStringLiteral("relay")) ? parser.value(QStringLiteral("relay"))
                                                          : defaultRelayProgram();
    if (command.delayMs > 0 && !QFileInfo(command.relay).isExecutable())
        parser.error(QStringLiteral("--delay-ms needs the relay program; build the tests or pass "
                                    "--relay PATH (%1 is missing)")
                         .arg(command.relay));
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    return command;
}

int execute(const SwarmBenchCommand &command)
{
    const std::int64_t serverCount = command.serverCount, promptTokens = command.promptTokens,
                       decodeTokens = command.decodeTokens;
    const int delayMs = command.delayMs, rounds = command.rounds;
    const at::ScalarType dtype = command.model.dtype;
    const std::string modelName = command.model.name();
    // The servers read a checkpoint folder: a named shape is written to a temporary one.
    QTemporaryDir scratch;
    auto folder = benchModelFolder(command.model, scratch);
    if (!folder)
        return reportError("bench swarm", folder.error().toString());
    const std::string modelDir = *folder;
    auto placement = resolvePlacement(command.model.device.device, command.model.device.backend);
    if (!placement)
        return reportError("bench swarm", placement.error().toString());
    auto local = LocalModel::open(modelDir, dtype, command.model.quantization, *placement);
    if (!local)
        return reportError("bench swarm", local.error().toString());
    const ModelConfig &config = (*local)->config();
    ServerProcesses processes;
    auto swarm =
        startEvenSwarm(processes, modelDir, config.numLayers, serverCount, computeDtypeName(dtype),
                       command.model.quantization, delayMs, command.relay);
    if (!swarm)
        return reportError("bench swarm", swarm.error().toString());

    const at::Tensor prompt = at::randint(3, config.vocabSize, {1, promptTokens}, at::kLong);
    const std::int64_t capacity = promptTokens + decodeTokens + 1;
    Timing bestLocal{1e30, 1e30}, bestSwarm{1e30, 1e30};
    std::string route;
    for (int round = 0; round < rounds; ++round) {
        std::fprintf(stderr, "round %d of %d...\n", round + 1, rounds);
        LocalBlockRunner localBlocks((*local)->blocks(), capacity);
        auto localTiming = timeRun((*local)->head(), localBlocks, prompt, decodeTokens);
        if (!localTiming)
            return reportError("bench swarm", localTiming.error().toString());
        RemoteSessionOptions options;
        options.maxLength = capacity;
        options.codec = command.wire;
        auto session = RemoteSession::open(**swarm, config.numLayers, options);
        if (!session)
            return reportError("bench swarm", session.error().toString());
        route = (*session)->routeText();
        auto swarmTiming = timeRun((*local)->head(), **session, prompt, decodeTokens);
        if (!swarmTiming)
            return reportError("bench swarm", swarmTiming.error().toString());
        bestLocal = {std::min(bestLocal.prefillSeconds, localTiming->prefillSeconds),
                     std::min(bestLocal.decodeSeconds, localTiming->decodeSeconds)};
        bestSwarm = {std::min(bestSwarm.prefillSeconds, swarmTiming->prefillSeconds),
                     std::min(bestSwarm.decodeSeconds, swarmTiming->decodeSeconds)};
    }

    const double localDecode = double(decodeTokens) / bestLocal.decodeSeconds;
    const double swarmDecode = double(decodeTokens) / bestSwarm.decodeSeconds;
    const double localPrefill = double(promptTokens) / bestLocal.prefillSeconds;
    const double swarmPrefill = double(promptTokens) / bestSwarm.prefillSeconds;
    nlohmann::json report = {
        {"benchmark", "swarm"},
        {"model", modelName},
        {"dtype", computeDtypeName(dtype)},
        {"quant", quantizationName(command.model.quantization)},
        {"wire_dtype", codecName(command.wire)},
        {"servers", serverCount},
        {"route", route},
        {"prompt_tokens", promptTokens},
        {"decode_tokens", decodeTokens},
        {"rounds", rounds},
        {"local_decode_tokens_per_s", localDecode},
        {"swarm_decode_tokens_per_s", swarmDecode},
        {"decode_ratio", swarmDecode / localDecode},
        {"local_prefill_tokens_per_s", localPrefill},
        {"swarm_prefill_tokens_per_s", swarmPrefill},
        {"prefill_ratio", swarmPrefill / localPrefill},
    };
    if (delayMs > 0) {
        // Each hop is a round trip from the client: 2 x delay per server per token.
        const double roundTripsMs = double(serverCount) * 2.0 * delayMs;
        const double stepMs = 1000.0 / swarmDecode;
        const double floorMs = 1000.0 / localDecode + roundTripsMs;
        report["delay_ms"] = delayMs;
        report["step_ms"] = stepMs;
        report["floor_ms"] = floorMs;
        report["step_over_floor"] = stepMs / floorMs;
        // A server waits for the network most of the time; some machines (virtual ones above
        // all) compute slower after such pauses. The local step measured after the same pause
        // shows how much of step_ms is that, not the swarm.
        std::fprintf(stderr, "measuring local steps after pauses...\n");
        double pausedStep = 1e30;
        for (int round = 0; round < rounds; ++round) {
            LocalBlockRunner localBlocks((*local)->blocks(), capacity);
            auto paused =
                timeRun((*local)->head(), localBlocks, prompt, decodeTokens, int(roundTripsMs));
            if (!paused)
                return reportError("bench swarm", paused.error().toString());
            pausedStep =
                std::min(pausedStep, paused->decodeSeconds * 1000.0 / double(decodeTokens));
        }
        report["local_step_after_pause_ms"] = pausedStep;
        report["idle_floor_ms"] = pausedStep + roundTripsMs;
        report["step_over_idle_floor"] = stepMs / (pausedStep + roundTripsMs);
    }
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

} // namespace

int runSwarmBench(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<SwarmBenchCommand> command = parseSwarmBench(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
