// finetune: prompt tuning (ptune, deep_ptune) of a model whose blocks stay frozen, on this
// machine or on a swarm (--swarm), from a JSON Lines file. Each step's loss goes to stderr;
// the prompts, a record of the run and its loss curve to --out (rewritten as training goes,
// so that an interrupted run keeps what it learned); one JSON summary to stdout.

#include <cstdio>
#include <optional>

#include <QCoreApplication>
#include <QDir>
#include <QSaveFile>

#include <nlohmann/json.hpp>

#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/events.h"
#include "app/losscurve.h"
#include "app/swarmoptions.h"
#include "swarm/modelidentity.h"
#include "tokenizer/tokenizer.h"
#include "train/prompttrainer.h"

namespace corolla {

namespace {

// What `corolla finetune` runs with.
struct FinetuneCommand {
    ClientModelOptions model;
    std::string dataPath;
    std::string outDir;
    std::optional<PromptMethod> method;       // from --prompts when not given
    std::optional<std::int64_t> prefixLength; // likewise
    std::uint64_t promptSeed = 0;
    TrainingOptions training;
    std::int64_t parallel = 1;
    TrainingDataOptions data;
};

std::optional<FinetuneCommand> parseFinetune(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("finetune"),
        QStringLiteral("Trains prompts (ptune: embeddings before the input; deep_ptune: one more "
                       "for every block) on a JSON Lines file while the model stays frozen. "
                       "Lines are {\"text\"}, {\"prompt\", \"completion\"} or {\"messages\"}. "
                       "The blocks run on this machine, or on a swarm with --swarm. Writes "
                       "prompts.safetensors, finetune.json and loss.svg to --out; generate, "
                       "chat and api use the prompts with --prompts DIR."));
    addClientModelOptions(parser, QStringLiteral("fp32"));
    parser.addValueOptions({
        {"data", "FILE.jsonl", "training examples, one JSON object per line"},
        {"out", "DIR", "where to write the prompts, the run's record and its loss curve"},
        {"method", "ptune|deep_ptune", "what to train (default deep_ptune)"},
        {"prefix-length", "N", "virtual tokens before every sequence (default 16)"},
        {"steps", "N", "optimizer steps", "100"},
        {"batch-size", "B", "examples per step", "8"},
        {"micro-batch", "M", "examples per pass through the blocks; 0: the whole batch", "0"},
        {"lr", "LR", "peak learning rate of AdamW", "0.01"},
        {"warmup-steps", "N", "steps of linear warm-up (default a tenth of the steps)"},
        {"weight-decay", "W", "AdamW's decoupled weight decay", "0"},
        {"max-grad-norm", "G", "clip the gradients' norm to this (0: never)", "1"},
        {"seed", "S", "initial prompts and the order of the examples", "0"},
        {"parallel", "K", "chunks of a batch run at once (one swarm route each)", "1"},
        {"max-tokens", "N", "longest example allowed, in tokens", "2048"},
    });
    addEventsOption(parser);
    if (!parser.parse(arguments, exitCode))
        return std::nullopt;
    enableEvents(parser);
    parser.require(QStringLiteral("model"));
    parser.require(QStringLiteral("data"));
    parser.require(QStringLiteral("out"));
    FinetuneCommand command;
    command.dataPath = parser.text(QStringLiteral("data"));
    command.outDir = parser.text(QStringLiteral("out"));
    if (parser.isSet(QStringLiteral("method"))) {
        auto method = promptMethodFromName(parser.text(QStringLiteral("method")));
        if (method)
            command.method = *method;
        else
            parser.error(QString::fromStdString(method.error().message));
    }
    if (parser.isSet(QStringLiteral("prefix-length")))
        command.prefixLength = parser.integer(QStringLiteral("prefix-length"), 1, 4096);
    if (parser.isSet(QStringLiteral("prompts")) && (command.method || command.prefixLength))
        parser.error(QStringLiteral("--prompts continues training prompts, whose method and "
                                    "prefix length are fixed: leave out --method and "
                                    "--prefix-length"));
    TrainingOptions &training = command.training;
    training.steps = parser.integer(QStringLiteral("steps"), 1, 100000000);
    training.batchSize = parser.integer(QStringLiteral("batch-size"), 1, 65536);
    training.microBatchSize = parser.integer(QStringLiteral("micro-batch"), 0, 65536);
    training.learningRate = parser.number(QStringLiteral("lr"), 1e-12, 1e3);
    training.warmupSteps = parser.isSet(QStringLiteral("warmup-steps"))
                               ? parser.integer(QStringLiteral("warmup-steps"), 0, 100000000)
                               : -1;
    training.weightDecay = parser.number(QStringLiteral("weight-decay"), 0.0, 1e3);
    training.maxGradNorm = parser.number(QStringLiteral("max-grad-norm"), 0.0, 1e9);
    training.seed = std::uint64_t(parser.integer(QStringLiteral("seed"), 0, INT64_MAX));
    command.promptSeed = training.seed;
    command.parallel = parser.integer(QStringLiteral("parallel"), 1, 64);
    command.data.maxTokens = parser.integer(QStringLiteral("max-tokens"), 2, 1 << 20);
    auto model = clientModelOptions(parser, "finetune", exitCode);
    if (!model)
        return std::nullopt;
    command.model = std::move(*model);
    return command;
}

int fail(const Error &error)
{
    return reportFailure("finetune", error);
}

Result<void> writeText(const QString &path, const std::string &text)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)
        || file.write(text.data(), qint64(text.size())) != qint64(text.size()) || !file.commit())
        return makeError(ErrorCode::Io, "cannot write " + path.toStdString() + ": "
                                            + file.errorString().toStdString());
    return {};
}

// The run so far, as finetune.json records it.
struct RunRecord {
    nlohmann::ordered_json json;
    std::vector<double> losses;
    std::int64_t tokens = 0;
    double seconds = 0;
    double tokensPerSecond() const { return seconds > 0 ? double(tokens) / seconds : 0.0; }
};

// Writes the prompts, finetune.json and loss.svg into `directory` (each replaced whole).
Result<void> save(const QDir &directory, const TrainablePrompts &prompts,
                  const std::string &modelId, RunRecord &record)
{
    auto saved = prompts.save(
        directory.filePath(QStringLiteral("prompts.safetensors")).toStdString(), modelId);
    if (!saved)
        return saved;
    record.json["steps"] = record.losses.size();
    record.json["losses"] = record.losses;
    record.json["tokens_per_s"] = record.tokensPerSecond();
    auto json =
        writeText(directory.filePath(QStringLiteral("finetune.json")), record.json.dump(2) + "\n");
    if (!json)
        return json;
    const std::string title = std::string(promptMethodName(prompts.method)) + ", prefix "
                              + std::to_string(prompts.prefixLength()) + ": loss per step";
    return writeText(directory.filePath(QStringLiteral("loss.svg")),
                     lossCurveSvg(record.losses, title));
}

int execute(const FinetuneCommand &command)
{
    auto tokenizer = Tokenizer::load(command.model.modelDir);
    if (!tokenizer)
        return fail(tokenizer.error());
    auto examples = readTrainingData(command.dataPath, **tokenizer, command.data);
    if (!examples)
        return fail(examples.error());
    const QDir out(QString::fromStdString(command.outDir));
    if (!out.mkpath(QStringLiteral(".")))
        return fail(makeError(ErrorCode::Io, "cannot create the folder " + command.outDir));
    auto modelId = modelIdForDirectory(command.model.modelDir);
    if (!modelId)
        return fail(modelId.error());
    auto backend = ModelBackend::open(command.model);
    if (!backend)
        return fail(backend.error());
    const ModelBackend &model = **backend;

    TrainablePrompts prompts;
    if (model.prompts()) {
        prompts = *model.prompts();
        prompts.prefix = prompts.prefix.clone();
        if (prompts.deep.defined())
            prompts.deep = prompts.deep.clone();
    } else {
        auto initial = TrainablePrompts::initial(
            model.config(), model.head(), command.method.value_or(PromptMethod::DeepPTune),
            command.prefixLength.value_or(16), command.promptSeed);
        if (!initial)
            return fail(initial.error());
        prompts = std::move(*initial);
    }

    // One TrainingBlocks per parallel chunk: views of the local blocks, or routes of the swarm.
    std::vector<std::unique_ptr<TrainingBlocks>> owned;
    std::vector<RemoteTrainingBlocks *> remotes;
    for (std::int64_t i = 0; i < command.parallel; ++i) {
        if (const BlockSpan *local = model.localBlocks()) {
            owned.push_back(std::make_unique<LocalTrainingBlocks>(*local, model.localAdapter()));
            continue;
        }
        const RemoteSessionOptions &session = command.model.sessionOptions;
        auto remote = std::make_unique<RemoteTrainingBlocks>(
            *model.swarm(), model.config().numLayers,
            RemoteForwardOptions{.codec = session.codec,
                                 .callTimeoutMs = session.stepTimeoutMs,
                                 .routeTimeoutMs = session.routeTimeoutMs,
                                 .maxFailovers = session.maxFailovers,
                                 .adapter = session.adapter});
        remotes.push_back(remote.get());
        owned.push_back(std::move(remote));
    }
    std::vector<TrainingBlocks *> blocks;
    for (const auto &b : owned)
        blocks.push_back(b.get());
    auto trainer =
        PromptTrainer::create(model.head(), prompts, blocks, *examples, command.training);
    if (!trainer)
        return fail(trainer.error());

    RunRecord record;
    record.json = {{"model", *modelId},
                   {"method", std::string(promptMethodName(prompts.method))},
                   {"prefix_length", prompts.prefixLength()},
                   {"data", command.dataPath},
                   {"examples", examples->size()},
                   {"batch_size", command.training.batchSize},
                   {"learning_rate", command.training.learningRate},
                   {"seed", command.training.seed},
                   {"swarm", model.isSwarm()}};
    std::fprintf(stderr, "%zu examples; training %s prompts of %lld positions for %lld steps%s\n",
                 examples->size(), std::string(promptMethodName(prompts.method)).c_str(),
                 static_cast<long long>(prompts.prefixLength()),
                 static_cast<long long>(command.training.steps),
                 model.isSwarm() ? " through the swarm" : "");
    bool interrupted = false;
    onTerminationSignal([&interrupted] { interrupted = true; });
    // Saved about ten times along the way, and at the end.
    const std::int64_t saveEvery = std::max<std::int64_t>(1, command.training.steps / 10);
    for (std::int64_t step = 1; step <= command.training.steps && !interrupted; ++step) {
        auto report = (*trainer)->step();
        if (!report) {
            if (!record.losses.empty())
                (void)save(out, prompts, *modelId, record); // keep what was learned
            return fail(report.error());
        }
        record.losses.push_back(report->loss);
        record.tokens += report->tokens;
        record.seconds += report->seconds;
        std::fprintf(stderr, "step %lld/%lld: loss %.4f, lr %.3g, grad norm %.3g, %.0f tokens/s\n",
                     static_cast<long long>(step), static_cast<long long>(command.training.steps),
                     report->loss, report->learningRate, report->gradNorm,
                     double(report->tokens) / std::max(report->seconds, 1e-9));
        emitEvent("step", {{"step", step},
                           {"loss", report->loss},
                           {"learning_rate", report->learningRate},
                           {"grad_norm", report->gradNorm},
                           {"tokens", report->tokens},
                           {"seconds", report->seconds}});
        if (step % saveEvery == 0 || step == command.training.steps) {
            if (auto saved = save(out, prompts, *modelId, record); !saved)
                return fail(saved.error());
        }
        QCoreApplication::processEvents(); // a termination signal ends the run here
    }
    if (interrupted && !record.losses.empty()) {
        if (auto saved = save(out, prompts, *modelId, record); !saved)
            return fail(saved.error());
        std::fprintf(stderr, "interrupted after step %zu; the prompts so far are in %s\n",
                     record.losses.size(), command.outDir.c_str());
    }

    int failovers = 0;
    for (const RemoteTrainingBlocks *remote : remotes)
        failovers += remote->failovers();
    nlohmann::ordered_json summary{
        {"steps", record.losses.size()},
        {"first_loss", record.losses.empty() ? 0.0 : record.losses.front()},
        {"last_loss", record.losses.empty() ? 0.0 : record.losses.back()},
        {"tokens_per_s", record.tokensPerSecond()},
        {"out", command.outDir}};
    if (model.isSwarm())
        summary["failovers"] = failovers;
    if (interrupted)
        summary["interrupted"] = true;
    std::printf("%s\n", summary.dump().c_str());
    std::fflush(stdout);
    emitEvent("finished", summary);
    return interrupted ? 130 : 0;
}

} // namespace

int runFinetune(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<FinetuneCommand> command = parseFinetune(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
