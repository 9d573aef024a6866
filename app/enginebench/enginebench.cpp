// corolla-engine-bench: decode and prefill tokens/s of the engine on random weights of named
// shapes, on one device, in each of the formats asked for, next to what that device can do
// (its memory bandwidth and matrix-product rate, measured in the same run). Prints one JSON
// object. Free of Qt: it builds where only libtorch is (-DCOROLLA_ENGINE_ONLY=ON).

#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ops/argmax.h>
#include <ATen/ops/randint.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include "core/gpuinfo.h"
#include "model/devicerates.h"
#include "model/localmodel.h"
#include "model/placement.h"
#include "testmodel/testmodel.h"

using namespace corolla;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Options {
    std::vector<std::string> shapes = {"tinyllama-1.1b", "llama-3-8b"};
    std::vector<Quantization> formats = {Quantization::None, Quantization::Int8, Quantization::Nf4};
    at::ScalarType dtype = at::kBFloat16;
    ComputeDevice device = ComputeDevice::automatic();
    ComputeBackend backend = ComputeBackend::Native;
    std::int64_t promptTokens = 128;
    std::int64_t decodeTokens = 64;
};

std::vector<std::string> splitList(const std::string &text)
{
    std::vector<std::string> items;
    std::stringstream stream(text);
    for (std::string item; std::getline(stream, item, ',');)
        if (!item.empty())
            items.push_back(item);
    return items;
}

constexpr const char *kUsage =
    "usage: corolla-engine-bench [--shape NAME[,NAME...]] [--quant none,int8,nf4]\n"
    "                            [--dtype bf16|fp32] [--device cpu|auto|cuda[:N]]\n"
    "                            [--backend native|generic] [--prompt N] [--decode N]\n";

Result<Options> parseOptions(int argc, char **argv)
{
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string option = argv[i];
        if (option == "--help")
            return makeError(ErrorCode::Cancelled, kUsage);
        if (i + 1 >= argc)
            return makeError(ErrorCode::InvalidArgument, option + " needs a value");
        const std::string value = argv[++i];
        if (option == "--shape") {
            options.shapes = splitList(value);
        } else if (option == "--quant") {
            options.formats.clear();
            for (const std::string &name : splitList(value)) {
                auto format = quantizationFromName(name);
                if (!format)
                    return format.error();
                options.formats.push_back(*format);
            }
        } else if (option == "--dtype") {
            auto dtype = computeDtypeFromName(value);
            if (!dtype)
                return dtype.error();
            options.dtype = *dtype == ComputeDtype::BFloat16 ? at::kBFloat16 : at::kFloat;
        } else if (option == "--device") {
            auto device = ComputeDevice::fromName(value);
            if (!device)
                return device.error();
            options.device = *device;
        } else if (option == "--backend") {
            auto backend = computeBackendFromName(value);
            if (!backend)
                return backend.error();
            options.backend = *backend;
        } else if (option == "--prompt" || option == "--decode") {
            char *end = nullptr;
            const long long count = std::strtoll(value.c_str(), &end, 10);
            if (*end != '\0' || count < 1 || count > 8192)
                return makeError(ErrorCode::InvalidArgument,
                                 option + " must be a whole number in [1, 8192]");
            (option == "--prompt" ? options.promptTokens : options.decodeTokens) = count;
        } else {
            return makeError(ErrorCode::InvalidArgument, "unknown option " + option);
        }
    }
    if (options.shapes.empty() || options.formats.empty())
        return makeError(ErrorCode::InvalidArgument, "no shape or no format to measure");
    return options;
}

// Best prefill of the prompt over three runs, then greedy decoding one token at a time, each
// token read on the host as a sampler would: the waits a real generation has.
struct Rates {
    double prefill = 0;
    double decode = 0;
};

Result<Rates> measure(const LocalModel &model, const Options &options)
{
    c10::InferenceMode inference;
    const c10::Device device = model.blocks().placement().device;
    const at::Tensor prompt =
        at::randint(3, model.config().vocabSize, {1, options.promptTokens}, at::kLong);
    Rates rates;
    std::optional<KvCache> cache;
    at::Tensor token;
    for (int run = 0; run <= 3; ++run) { // run 0 warms up
        cache.emplace(model.blocks().makeCache(1, options.promptTokens + options.decodeTokens));
        const auto start = Clock::now();
        auto hidden = model.head().embed(prompt);
        auto output = hidden ? model.blocks().step(*hidden, *cache, {options.promptTokens})
                             : Result<at::Tensor>(hidden.error());
        if (!output)
            return output.error();
        token = toHost(model.head()
                           .logits(output->select(1, options.promptTokens - 1))
                           .argmax(-1)
                           .view({1, 1}));
        if (run > 0)
            rates.prefill =
                std::max(rates.prefill, double(options.promptTokens) / secondsSince(start));
    }
    synchronize(device);
    const auto start = Clock::now();
    for (std::int64_t i = 0; i < options.decodeTokens; ++i) {
        auto hidden = model.head().embed(token);
        auto output =
            hidden ? model.blocks().step(*hidden, *cache, {1}) : Result<at::Tensor>(hidden.error());
        if (!output)
            return output.error();
        token = toHost(model.head().logits(output->select(1, 0)).argmax(-1).view({1, 1}));
    }
    rates.decode = double(options.decodeTokens) / secondsSince(start);
    return rates;
}

Result<ModelConfig> shapeConfig(const std::string &shape)
{
    TestModelSpec spec;
    spec.shape = shape;
    spec.family = familyOfShape(shape, "llama");
    auto text = testModelConfigJson(spec);
    if (!text)
        return text.error();
    return ModelConfig::parse(*text, shape);
}

double matmulParameters(const ModelConfig &config)
{
    double parameters = 0;
    for (const TestTensor &tensor : testTensors(config)) {
        if (tensor.kind == TestTensor::Kind::Embedding)
            continue; // a lookup (the shapes measured have an LM head of their own)
        parameters += double(c10::multiply_integers(tensor.shape));
    }
    return parameters;
}

int fail(const std::string &message)
{
    std::fprintf(stderr, "corolla-engine-bench: %s\n", message.c_str());
    return 1;
}

} // namespace

int main(int argc, char **argv)
{
    auto options = parseOptions(argc, argv);
    if (!options) {
        if (options.error().code == ErrorCode::Cancelled) {
            std::fputs(kUsage, stdout);
            return 0;
        }
        std::fprintf(stderr, "corolla-engine-bench: %s\n%s", options.error().message.c_str(),
                     kUsage);
        return 2;
    }
    auto placement = resolvePlacement(options->device, options->backend);
    if (!placement)
        return fail(placement.error().message);
    useOwnStream(placement->device);

    nlohmann::json report = {{"device", placement->name()},
                             {"dtype", computeDtypeName(options->dtype)},
                             {"prompt_tokens", options->promptTokens},
                             {"decode_tokens", options->decodeTokens}};
    if (!placement->device.is_cpu()) {
        if (const auto gpu = nvmlGpu(placement->device.index()))
            report["gpu"] = {{"name", gpu->name}, {"total_bytes", gpu->totalBytes}};
    }
    std::fprintf(stderr, "measuring %s...\n", placement->name().c_str());
    // The bounds: on a GPU what its memory and tensor cores do; on the CPU the same probes
    // through libtorch (`corolla bench local` has finer ones).
    const double bandwidth = deviceCopyBandwidth(placement->device);
    const double matmul = deviceMatmulFlops(placement->device, options->dtype, 4096, 4096, 4096);
    report["memory_copy_gb_per_s"] = bandwidth / 1e9;
    report["matmul_tflop_per_s"] = matmul / 1e12;

    nlohmann::json runs = nlohmann::json::array();
    for (const std::string &shape : options->shapes) {
        auto config = shapeConfig(shape);
        if (!config)
            return fail(shape + ": " + config.error().message);
        const RandomTensorSource weights(*config, 1, at::kBFloat16);
        for (Quantization format : options->formats) {
            std::fprintf(stderr, "%s %s: loading...\n", shape.c_str(),
                         std::string(quantizationName(format)).c_str());
            const auto loadStart = Clock::now();
            auto model =
                LocalModel::fromSource(*config, weights, options->dtype, format, *placement);
            if (!model)
                return fail(shape + ": " + model.error().message);
            const double loadSeconds = secondsSince(loadStart);
            auto rates = measure(**model, *options);
            if (!rates)
                return fail(shape + ": " + rates.error().message);
            const double bytesPerToken =
                double((*model)->blocks().tokenWeightBytes() + (*model)->head().lmHeadBytes());
            const double decodeBound = bandwidth / bytesPerToken;
            // Two FLOPs per weight that a token multiplies (not the embedding table's).
            const double prefillBound = matmul / (2.0 * matmulParameters(*config));
            runs.push_back({{"shape", shape},
                            {"quant", quantizationName(format)},
                            {"load_seconds", loadSeconds},
                            {"decode_tokens_per_s", rates->decode},
                            {"prefill_tokens_per_s", rates->prefill},
                            {"weight_bytes_per_token", bytesPerToken},
                            {"decode_bound_tokens_per_s", decodeBound},
                            {"decode_bound_fraction", rates->decode / decodeBound},
                            {"prefill_matmul_fraction", rates->prefill / prefillBound}});
        }
    }
    report["runs"] = runs;
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}
