// bench finetune: prompt-tuning steps through N server processes on this machine against the
// same steps with every block on this machine, in the same run; prints one JSON object.

#include <cstdio>
#include <optional>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randint.h>
#include <QTemporaryDir>
#include <nlohmann/json.hpp>

#include "app/benchoptions.h"
#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/serverprocesses.h"
#include "net/tensorcodec.h"
#include "train/prompttrainer.h"

namespace corolla {

namespace {

struct FinetuneBenchCommand {
    BenchModelOptions model;
    std::int64_t serverCount = 3;
    PromptMethod method = PromptMethod::DeepPTune;
    std::int64_t prefixLength = 16, batchSize = 2, sequenceLength = 64, steps = 2;
    std::int64_t parallel = 1;
    int rounds = 2;
};

std::optional<FinetuneBenchCommand> parseFinetuneBench(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("bench finetune"),
        QStringLiteral("Starts N servers on 127.0.0.1 with equal shares of the blocks and "
                       "measures prompt-tuning steps (forward, loss, backward, update) through "
                       "them against the same steps on this machine, in the same run; prints "
                       "one JSON object. Wire tensors are fp32, lossless."));
    addBenchModelOptions(parser, QStringLiteral("tinyllama-1.1b"), QStringLiteral("fp32"));
    parser.addValueOptions({
        {"servers", "N", "server processes", "3"},
        {"method", "ptune|deep_ptune", "what trains", "deep_ptune"},
        {"prefix-length", "N", "prompt positions", "16"},
        {"batch-size", "B", "sequences per step", "2"},
        {"sequence-length", "N", "tokens per sequence", "64"},
        {"steps", "N", "steps per run", "2"},
        {"parallel", "K", "chunks of a batch through the swarm at once", "1"},
        {"rounds", "N", "local and swarm runs, alternating; the best of each counts", "2"},
    });
    if (!parser.parse(arguments.mid(1), exitCode))
        return std::nullopt;
    FinetuneBenchCommand command;
    command.model = benchModelOptions(parser);
    command.serverCount = parser.integer(QStringLiteral("servers"), 1, 64);
    if (auto method = promptMethodFromName(parser.text(QStringLiteral("method"))))
        command.method = *method;
    else
        parser.error(QString::fromStdString(method.error().message));
    command.prefixLength = parser.integer(QStringLiteral("prefix-length"), 1, 4096);
    command.batchSize = parser.integer(QStringLiteral("batch-size"), 1, 1024);
    command.sequenceLength = parser.integer(QStringLiteral("sequence-length"), 2, 32768);
    command.steps = parser.integer(QStringLiteral("steps"), 1, 1000);
    command.parallel = parser.integer(QStringLiteral("parallel"), 1, 64);
    command.rounds = int(parser.integer(QStringLiteral("rounds"), 1, 100));
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    return command;
}

// Tokens through the blocks per second over `steps` steps of a fresh trainer.
Result<double> trainingRate(const ClientHead &head, TrainablePrompts prompts,
                            const std::vector<TrainingBlocks *> &blocks,
                            const std::vector<TrainingExample> &examples,
                            const FinetuneBenchCommand &command)
{
    prompts.prefix = prompts.prefix.clone();
    if (prompts.deep.defined())
        prompts.deep = prompts.deep.clone();
    auto trainer = PromptTrainer::create(
        head, prompts, blocks, examples,
        {.steps = command.steps, .batchSize = command.batchSize, .learningRate = 1e-3});
    if (!trainer)
        return trainer.error();
    std::int64_t tokens = 0;
    double seconds = 0;
    for (std::int64_t step = 0; step < command.steps; ++step) {
        auto report = (*trainer)->step();
        if (!report)
            return report.error();
        tokens += report->tokens;
        seconds += report->seconds;
    }
    return double(tokens) / seconds;
}

int fail(const Error &error)
{
    return reportError("bench finetune", error.toString());
}

int execute(const FinetuneBenchCommand &command)
{
    QTemporaryDir scratch;
    auto folder = benchModelFolder(command.model, scratch);
    if (!folder)
        return fail(folder.error());
    auto placement = resolvePlacement(command.model.device.device, command.model.device.backend);
    if (!placement)
        return fail(placement.error());
    auto local =
        LocalModel::open(*folder, command.model.dtype, command.model.quantization, *placement);
    if (!local)
        return fail(local.error());
    const ModelConfig &config = (*local)->config();
    ServerProcesses processes;
    auto swarm = startEvenSwarm(processes, *folder, config.numLayers, command.serverCount,
                                computeDtypeName(command.model.dtype), command.model.quantization);
    if (!swarm)
        return fail(swarm.error());

    // Random sequences, the loss on every token but the first.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
    std::vector<TrainingExample> examples(std::size_t(command.batchSize));
    for (TrainingExample &example : examples) {
        const at::Tensor ids = at::randint(3, config.vocabSize, {command.sequenceLength}, generator,
                                           at::TensorOptions(at::kLong));
        example.ids.assign(ids.data_ptr<std::int64_t>(),
                           ids.data_ptr<std::int64_t>() + ids.numel());
        example.target.assign(example.ids.size(), 1);
        example.target[0] = 0;
    }
    auto prompts = TrainablePrompts::initial(config, (*local)->head(), command.method,
                                             command.prefixLength, 2);
    if (!prompts)
        return fail(prompts.error());

    LocalTrainingBlocks here((*local)->blocks());
    std::vector<std::unique_ptr<RemoteTrainingBlocks>> remotes;
    std::vector<TrainingBlocks *> remoteBlocks;
    for (std::int64_t i = 0; i < command.parallel; ++i) {
        remotes.push_back(std::make_unique<RemoteTrainingBlocks>(
            **swarm, config.numLayers, RemoteForwardOptions{.codec = proto::CODEC_FP32}));
        remoteBlocks.push_back(remotes.back().get());
    }
    double bestLocal = 0, bestSwarm = 0;
    for (int round = 0; round < command.rounds; ++round) {
        std::fprintf(stderr, "round %d of %d...\n", round + 1, command.rounds);
        auto localRate = trainingRate((*local)->head(), *prompts, {&here}, examples, command);
        if (!localRate)
            return fail(localRate.error());
        auto swarmRate = trainingRate((*local)->head(), *prompts, remoteBlocks, examples, command);
        if (!swarmRate)
            return fail(swarmRate.error());
        bestLocal = std::max(bestLocal, *localRate);
        bestSwarm = std::max(bestSwarm, *swarmRate);
    }
    std::string route;
    for (const std::string &hop : remotes.front()->lastRoute())
        route += (route.empty() ? "" : " -> ") + hop;
    const nlohmann::ordered_json report{
        {"benchmark", "finetune"},
        {"model", command.model.name()},
        {"dtype", computeDtypeName(command.model.dtype)},
        {"method", std::string(promptMethodName(command.method))},
        {"prefix_length", command.prefixLength},
        {"batch_size", command.batchSize},
        {"sequence_length", command.sequenceLength},
        {"steps", command.steps},
        {"rounds", command.rounds},
        {"servers", command.serverCount},
        {"parallel", command.parallel},
        {"route", route},
        {"local_tokens_per_s", bestLocal},
        {"swarm_tokens_per_s", bestSwarm},
        {"ratio", bestSwarm / bestLocal},
    };
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

} // namespace

int runFinetuneBench(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<FinetuneBenchCommand> command = parseFinetuneBench(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
