// `corolla bench local`: decode and prefill speed of the local engine, each against the bound
// this machine allows, measured in the same run.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include <ATen/Parallel.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include "app/benchoptions.h"
#include "app/commandparser.h"
#include "app/commands.h"
#include "core/memorybandwidth.h"
#include "core/processorinfo.h"
#include "loader/tensorsource.h"
#include "model/cpukernels.h"
#include "model/devicerates.h"
#include "model/gemvbf16.h"
#include "model/localmodel.h"
#include "model/ops.h"
#include "server/memoryplan.h"
#include "testmodel/testmodel.h"

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The best FLOP/s of `dtype` matrix products over the model's own projection shapes at the
// prefill length and at four times it — the bound that prefill is measured against. bf16 on a
// processor without native bf16 products is multiplied in fp32 (ops::linear), so its bound is
// the fp32 GEMM's.
double bestGemmFlops(const ModelConfig &config, std::int64_t tokens, at::ScalarType dtype)
{
    if (dtype == at::kBFloat16 && !hasNativeBf16())
        dtype = at::kFloat;
    c10::InferenceMode inference;
    const std::int64_t h = config.hiddenSize;
    const std::int64_t qkv = (config.numHeads + 2 * config.numKvHeads) * config.headDim;
    const std::int64_t ffn = config.intermediateSize;
    const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
        {qkv, h}, {2 * ffn, h}, {h, ffn}, {h, config.numHeads * config.headDim}};
    double best = 0.0;
    for (std::int64_t rows : {tokens, 4 * tokens}) {
        for (const auto &[outFeatures, inFeatures] : shapes) {
            const at::Tensor x = at::randn({rows, inFeatures}).to(dtype);
            const at::Tensor w = at::randn({outFeatures, inFeatures}).to(dtype);
            at::linear(x, w); // warm-up: oneDNN builds its kernels on first use
            for (int repeat = 0; repeat < 3; ++repeat) {
                const auto start = Clock::now();
                at::Tensor y = at::linear(x, w);
                const double elapsed = seconds(start);
                best = std::max(best, 2.0 * double(rows * outFeatures * inFeatures) / elapsed);
            }
        }
    }
    return best;
}

struct Measured {
    double prefillSeconds = 0;
    double decodeSeconds = 0; // all decode steps
    std::int64_t decodeSteps = 0;
    double bestDecodeRate = 0; // tokens/s of the fastest segment
    double bandwidth = 0;      // the best of the probes taken between the decode segments
};

// Best prefill of `prompt` over `repeats` runs, then `decodeTokens` greedy steps in segments,
// with a memory-bandwidth probe before each segment and after the last. Shared and
// virtualised hosts vary a lot from second to second, so like prefill (the best of several
// runs) decode and the bound are both taken at their best: the fastest segment against the
// fastest probe, interleaved over the same seconds. The mean decode rate is reported too.
Result<Measured> measure(const LocalModel &model, const at::Tensor &prompt,
                         std::int64_t decodeTokens, int repeats, MemoryBandwidthProbe &probe)
{
    c10::InferenceMode inference;
    const std::int64_t promptTokens = prompt.size(1);
    Measured measured{1e30, 0, 0};
    std::optional<KvCache> cache; // the last prefill's cache carries on into the decode
    at::Tensor lastLogits;
    for (int run = 0; run <= repeats; ++run) { // run 0 warms the kernels up
        cache.emplace(model.blocks().makeCache(1, promptTokens + decodeTokens));
        const auto start = Clock::now();
        auto hidden = model.head().embed(prompt);
        if (!hidden)
            return hidden.error();
        auto output = model.blocks().step(*hidden, *cache, {promptTokens});
        if (!output)
            return output.error();
        lastLogits = toHost(model.head().logits(output->select(1, promptTokens - 1)));
        if (run > 0)
            measured.prefillSeconds = std::min(measured.prefillSeconds, seconds(start));
    }

    // The probe reads with libtorch's pool, the threads that run the decode.
    const MemoryBandwidthProbe::ParallelFor torchPool =
        [](std::size_t count, const std::function<void(std::size_t, std::size_t)> &work) {
            at::parallel_for(0, std::int64_t(count), 1 << 16,
                             [&](std::int64_t begin, std::int64_t end) {
                                 work(std::size_t(begin), std::size_t(end));
                             });
        };
    constexpr std::int64_t kSegments = 8;
    at::Tensor token = lastLogits.argmax(-1).view({1, 1});
    // A GPU's bound is its own memory's, measured once by the caller.
    const bool onCpu = model.blocks().placement().device.is_cpu();
    const auto probed = [&] { return onCpu ? probe.measure(2, torchPool) : 0.0; };
    double bandwidth = 0;
    for (std::int64_t segment = 0; segment < kSegments; ++segment) {
        bandwidth = std::max(bandwidth, probed());
        const std::int64_t steps =
            decodeTokens * (segment + 1) / kSegments - decodeTokens * segment / kSegments;
        const auto start = Clock::now();
        for (std::int64_t i = 0; i < steps; ++i) {
            auto embedded = model.head().embed(token);
            if (!embedded)
                return embedded.error();
            auto stepped = model.blocks().step(*embedded, *cache, {1});
            if (!stepped)
                return stepped.error();
            // On the host, as a sampler reads it: the one wait per token on a GPU.
            token = toHost(model.head().logits(stepped->select(1, 0)).argmax(-1).view({1, 1}));
        }
        const double elapsed = seconds(start);
        measured.decodeSeconds += elapsed;
        measured.decodeSteps += steps;
        if (steps > 0)
            measured.bestDecodeRate = std::max(measured.bestDecodeRate, double(steps) / elapsed);
    }
    measured.bandwidth = std::max(bandwidth, probed());
    return measured;
}

// What `corolla bench local` runs with.
struct LocalBenchCommand {
    BenchModelOptions model;
    std::int64_t promptTokens = 0;
    std::int64_t decodeTokens = 0;
    std::int64_t blocks = 0; // the first this many blocks of a shape; 0: all
};

std::optional<LocalBenchCommand> parseLocalBench(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("bench local"),
        QStringLiteral("Measures decode and prefill tokens/s of the local engine on "
                       "all cores against the memory-bandwidth and GEMM bounds "
                       "measured in the same run; prints one JSON object."));
    addBenchModelOptions(parser, QStringLiteral("tinyllama-1.1b"), QStringLiteral("bf16"));
    parser.addValueOptions({
        {"prompt-tokens", "N", "prefill length", "128"},
        {"decode-tokens", "N", "decode steps", "64"},
        {"blocks", "N",
         "measure the first N blocks of the shape only, with its embeddings and LM head (a "
         "shape larger than this machine's memory)"},
    });
    if (!parser.parse(arguments.mid(1), exitCode))
        return std::nullopt;
    LocalBenchCommand command;
    command.model = benchModelOptions(parser);
    command.promptTokens = parser.integer(QStringLiteral("prompt-tokens"), 1, 32768);
    command.decodeTokens = parser.integer(QStringLiteral("decode-tokens"), 1, 32768);
    if (parser.isSet(QStringLiteral("blocks"))) {
        command.blocks = parser.integer(QStringLiteral("blocks"), 1, 1 << 20);
        if (!command.model.modelDir.empty())
            parser.error(QStringLiteral("--blocks measures part of a --shape, not of a --model"));
    }
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    return command;
}

// Where the measured models come from: a checkpoint folder, or random weights made in memory
// (not written) once for both the measured model and its baseline.
class BenchModelSource {
public:
    static Result<BenchModelSource> make(const BenchModelOptions &options, std::int64_t blocks)
    {
        BenchModelSource made;
        made.m_options = options;
        if (!options.modelDir.empty())
            return made;
        auto configText = testModelConfigJson(options.spec);
        if (!configText)
            return configText.error();
        auto config = ModelConfig::parse(*configText, options.spec.shape);
        if (!config)
            return config.error();
        made.m_modelBlocks = config->numLayers;
        if (blocks > config->numLayers)
            return makeError(ErrorCode::InvalidArgument,
                             "--blocks " + std::to_string(blocks) + ": the shape has "
                                 + std::to_string(config->numLayers) + " blocks");
        if (blocks > 0) {
            config->numLayers = blocks;
            config->slidingLayers.resize(std::size_t(blocks));
        }
        made.m_config = *config;
        // Weights that would take more than a quarter of this machine's memory are made
        // tensor by tensor while loading, so that a large shape needs memory for one copy.
        std::int64_t checkpointBytes = 0;
        for (const TestTensor &tensor : testTensors(*config))
            checkpointBytes += c10::multiply_integers(tensor.shape)
                               * std::int64_t(at::elementSize(options.spec.storage));
        made.m_generatedWhileLoading = checkpointBytes > defaultMemoryBudget() / 2;
        if (made.m_generatedWhileLoading) {
            made.m_weights = std::make_shared<RandomTensorSource>(*config, options.spec.seed,
                                                                  options.spec.storage);
            return made;
        }
        std::fprintf(stderr, "generating random %s weights...\n", options.spec.shape.c_str());
        made.m_weights = std::make_shared<MemoryTensorSource>(
            makeTestWeights(*config, options.spec.seed, options.spec.storage));
        return made;
    }

    // The model in `dtype` with its blocks packed as `quantization`, and the seconds it took.
    Result<std::pair<std::unique_ptr<LocalModel>, double>> open(at::ScalarType dtype,
                                                                Quantization quantization) const
    {
        std::fprintf(stderr, "loading %s weights (%s)...\n", computeDtypeName(dtype),
                     std::string(quantizationName(quantization)).c_str());
        auto placement = resolvePlacement(m_options.device.device, m_options.device.backend);
        if (!placement)
            return placement.error();
        const auto start = Clock::now();
        auto model =
            m_weights
                ? LocalModel::fromSource(m_config, *m_weights, dtype, quantization, *placement)
                : LocalModel::open(m_options.modelDir, dtype, quantization, *placement);
        if (!model)
            return model.error();
        return std::pair{std::move(model).value(), seconds(start)};
    }

    // Whether the random weights are made while loading, their time counted in the load.
    bool generatedWhileLoading() const { return m_generatedWhileLoading; }
    // The blocks of the whole shape (0 for a checkpoint folder).
    std::int64_t modelBlocks() const { return m_modelBlocks; }

private:
    BenchModelOptions m_options;
    ModelConfig m_config;
    std::shared_ptr<TensorSource> m_weights; // null for a checkpoint folder
    bool m_generatedWhileLoading = false;    // load times include making the weights
    std::int64_t m_modelBlocks = 0;
};

// The figures of one measured model against the bounds of this run.
// blockParameters counts every block weight, activeParameters those a token computes with
// (for a mixture of experts, only the experts it is routed to).
nlohmann::json figures(const LocalModel &model, const Measured &measured, double loadSeconds,
                       std::int64_t promptTokens, std::int64_t decodeTokens, double bandwidth,
                       double gemmFlops, double blockParameters, double activeParameters)
{
    const ModelConfig &config = model.config();
    const at::ScalarType dtype = model.head().dtype();
    // Decode reads every block weight a token uses (packed, if so) and the LM head once per
    // token.
    const double bytesPerToken =
        double(model.blocks().tokenWeightBytes() + model.head().lmHeadBytes());
    const double elementBytes = dtype == at::kBFloat16 ? 2.0 : 4.0;
    // Prefill: two FLOPs per weight per token, attention over half the prompt on average,
    // and the LM head for the last position only.
    const double attentionFlops = double(config.numLayers) * 4.0
                                  * double(config.numHeads * config.headDim)
                                  * double(promptTokens + 1) / 2.0;
    const double prefillFlopsPerToken =
        2.0 * activeParameters + attentionFlops
        + 2.0 * double(model.head().lmHeadBytes()) / elementBytes / double(promptTokens);
    const double decodeRate = measured.bestDecodeRate;
    const double prefillRate = double(promptTokens) / measured.prefillSeconds;
    const double decodeBound = bandwidth / bytesPerToken;
    const double prefillBound = gemmFlops / prefillFlopsPerToken;
    return {
        {"dtype", computeDtypeName(dtype)},
        {"device", model.blocks().placement().name()},
        {"quant", quantizationName(model.blocks().quantization())},
        {"load_seconds", loadSeconds},
        {"load_seconds_per_gb", loadSeconds / (blockParameters * 2.0 / 1e9)}, // per GB of bf16
        {"decode_tokens_per_s", decodeRate},
        {"decode_mean_tokens_per_s", double(measured.decodeSteps) / measured.decodeSeconds},
        {"prefill_tokens_per_s", prefillRate},
        {"weight_bytes_per_token", bytesPerToken},
        {"decode_bound_tokens_per_s", decodeBound},
        {"prefill_flop_per_token", prefillFlopsPerToken},
        {"prefill_bound_tokens_per_s", prefillBound},
        {"decode_bound_fraction", decodeRate / decodeBound},
        {"prefill_bound_fraction", prefillRate / prefillBound},
    };
}

// The better of two measurements of the same model.
Measured best(const Measured &a, const Measured &b)
{
    Measured result = a;
    result.prefillSeconds = std::min(a.prefillSeconds, b.prefillSeconds);
    result.decodeSeconds = a.decodeSeconds + b.decodeSeconds;
    result.decodeSteps = a.decodeSteps + b.decodeSteps;
    result.bestDecodeRate = std::max(a.bestDecodeRate, b.bestDecodeRate);
    result.bandwidth = std::max(a.bandwidth, b.bandwidth);
    return result;
}

// The processor and which of the engine's loops run on it: the figures of one virtual
// machine type differ by the host it lands on.
nlohmann::json processorReport()
{
    const ProcessorInfo &processor = processorInfo();
    return {{"vendor", processor.vendor},
            {"brand", processor.brand},
            {"family", processor.family},
            {"model", processor.model},
            {"kernels", cpuKernelsName()}};
}

int execute(const LocalBenchCommand &command)
{
    const std::int64_t promptTokens = command.promptTokens, decodeTokens = command.decodeTokens;
    const at::ScalarType dtype = command.model.dtype;
    const Quantization quantization = command.model.quantization;
    auto source = BenchModelSource::make(command.model, command.blocks);
    if (!source)
        return reportError("bench local", source.error().toString());
    auto opened = source->open(dtype, quantization);
    if (!opened)
        return reportError("bench local", opened.error().toString());
    const std::unique_ptr<LocalModel> model = std::move(opened->first);
    const ModelConfig &config = model->config();
    if (promptTokens + decodeTokens > config.maxPositions)
        return reportError("bench local", "prompt and decode tokens exceed the model's context");
    // A packed model is measured against the unpacked bf16 model of the same weights, in
    // turns, so that both see the same seconds of this machine.
    std::unique_ptr<LocalModel> baseline;
    double baselineLoadSeconds = 0;
    if (quantization != Quantization::None) {
        auto plain = source->open(at::kBFloat16, Quantization::None);
        if (!plain)
            return reportError("bench local", plain.error().toString());
        baseline = std::move(plain->first);
        baselineLoadSeconds = plain->second;
    }

    const c10::Device device = model->blocks().placement().device;
    std::fprintf(stderr, "measuring GEMM throughput...\n");
    const double gemmFlops =
        device.is_cpu() ? bestGemmFlops(config, promptTokens, dtype)
                        : deviceMatmulFlops(device, dtype, 4 * promptTokens,
                                            2 * config.intermediateSize, config.hiddenSize);

    std::fprintf(stderr, "measuring the model and memory bandwidth...\n");
    MemoryBandwidthProbe probe;
    const at::Tensor prompt = at::randint(3, config.vocabSize, {1, promptTokens}, at::kLong);
    const int turns = baseline ? 2 : 1;
    std::optional<Measured> measured, measuredBaseline;
    for (int turn = 0; turn < turns; ++turn) {
        auto run = measure(*model, prompt, decodeTokens, 3, probe);
        if (!run)
            return reportError("bench local", run.error().toString());
        measured = measured ? best(*measured, *run) : *run;
        if (!baseline)
            continue;
        auto runBaseline = measure(*baseline, prompt, decodeTokens, 3, probe);
        if (!runBaseline)
            return reportError("bench local", runBaseline.error().toString());
        measuredBaseline = measuredBaseline ? best(*measuredBaseline, *runBaseline) : *runBaseline;
    }
    const double bandwidth =
        device.is_cpu()
            ? std::max(measured->bandwidth, measuredBaseline ? measuredBaseline->bandwidth : 0.0)
            : deviceCopyBandwidth(device);

    // Parameters of the blocks, counted on the unpacked model.
    const LocalModel &unpacked = baseline ? *baseline : *model;
    const double elementBytes = double(at::elementSize(unpacked.head().dtype()));
    const double blockParameters = double(unpacked.blocks().weightBytes()) / elementBytes;
    const double activeParameters = double(unpacked.blocks().tokenWeightBytes()) / elementBytes;
    nlohmann::json report = {
        {"benchmark", "local"},
        {"model", command.model.name()},
        {"weights_made_while_loading", source->generatedWhileLoading()},
        {"blocks", config.numLayers},
        {"model_blocks", source->modelBlocks() > 0 ? source->modelBlocks() : config.numLayers},
        {"threads", at::get_num_threads()},
        {"processor", processorReport()},
        {"prompt_tokens", promptTokens},
        {"decode_tokens", decodeTokens},
        {"memory_read_gb_per_s", bandwidth / 1e9},
        {"gemm_gflop_per_s", gemmFlops / 1e9},
    };
    report.update(figures(*model, *measured, opened->second, promptTokens, decodeTokens, bandwidth,
                          gemmFlops, blockParameters, activeParameters));
    if (baseline) {
        const nlohmann::json base =
            figures(*baseline, *measuredBaseline, baselineLoadSeconds, promptTokens, decodeTokens,
                    bandwidth, gemmFlops, blockParameters, activeParameters);
        report["baseline"] = base;
        report["decode_speedup"] =
            report["decode_tokens_per_s"].get<double>() / base["decode_tokens_per_s"].get<double>();
        report["prefill_ratio"] = report["prefill_tokens_per_s"].get<double>()
                                  / base["prefill_tokens_per_s"].get<double>();
        // Packing cost at load: the seconds beyond the unpacked load, per GB of bf16 blocks.
        report["quantize_seconds_per_gb"] = std::max(0.0, opened->second - baselineLoadSeconds)
                                            / (double(baseline->blocks().weightBytes()) / 1e9);
    }
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

int runLocalBench(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<LocalBenchCommand> command = parseLocalBench(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace

int runBench(const QStringList &arguments)
{
    if (arguments.size() >= 2 && arguments[1] == QLatin1String("local"))
        return runLocalBench(arguments);
    if (arguments.size() >= 2 && arguments[1] == QLatin1String("tokenizer"))
        return runTokenizerBench(arguments);
    if (arguments.size() >= 2 && arguments[1] == QLatin1String("swarm"))
        return runSwarmBench(arguments);
    if (arguments.size() >= 2 && arguments[1] == QLatin1String("soak"))
        return runSoakBench(arguments);
    if (arguments.size() >= 2 && arguments[1] == QLatin1String("api"))
        return runApiBench(arguments);
    if (arguments.size() >= 2 && arguments[1] == QLatin1String("finetune"))
        return runFinetuneBench(arguments);
    return reportError("bench", "choose a benchmark: 'corolla bench "
                                "local|swarm|soak|tokenizer|api|finetune [options]'");
}

} // namespace corolla
