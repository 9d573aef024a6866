// Every block family, in fp32 and bf16, unpacked and packed as int8 and nf4, computed on one
// device with one backend against the double-precision reference of the same (dequantized)
// weights: the blocks, the logits through the client head, KV-cached decoding against the
// full forward, and a batch of different lengths against its sequences one by one.
//
// Free of Qt, so that it builds in the engine-only configuration: ctest runs it with
// `--device cpu --backend generic` (the libtorch-only path that a GPU runs), and
// packaging/gpu-check.sh with `--device cuda:0`. Prints one line per check; exits 1 when one
// fails, 2 on a bad argument.

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <ATen/ops/cat.h>
#include <c10/core/InferenceMode.h>

#include "loader/tensorsource.h"
#include "model/blockspan.h"
#include "model/localmodel.h"
#include "model/familymodels.h"
#include "model/referencemodel.h"

using namespace corolla;
using namespace corolla::testing;

namespace {

struct Checker {
    int failures = 0;
    int checks = 0;

    // Records whether `error` <= `limit`, with a line naming the check.
    void expect(const std::string &what, double error, double limit)
    {
        ++checks;
        const bool passed = error <= limit; // NaN fails
        failures += passed ? 0 : 1;
        std::printf("%s %-58s %.3g (limit %.3g)\n", passed ? "PASS" : "FAIL", what.c_str(), error,
                    limit);
    }
    void fail(const std::string &what, const std::string &why)
    {
        ++checks;
        ++failures;
        std::printf("FAIL %-58s %s\n", what.c_str(), why.c_str());
    }
};

double relativeDiff(const at::Tensor &ours, const at::Tensor &expected)
{
    return maxAbsDiff(ours, expected) / expected.abs().max().item<double>();
}

// The fraction of positions (rows [..., T, hidden]) of `ours` whose largest difference from
// `expected` exceeds `limit` times the largest value of `expected`.
double mismatchedFraction(const at::Tensor &ours, const at::Tensor &expected, double limit)
{
    const at::Tensor a = ours.cpu().to(at::kDouble), b = expected.cpu().to(at::kDouble);
    const at::Tensor rowError = std::get<0>((a - b).abs().max(-1)) / b.abs().max();
    return (rowError > limit).to(at::kDouble).mean().item<double>();
}

// Mixtral in bf16: the fraction of positions that may have been routed differently.
constexpr double kRoutedMismatch = 0.1;

// The checks of one family in one dtype and format. In fp32 the limits are absolute: 1e-5
// for unpacked weights on the CPU as the native tests have it, 1e-4 for packed ones (the
// format's promise) and off the CPU (other summation orders, fused kernels); in bf16, relative
// to the largest value: 3%, as bf16 against fp32 everywhere else in the tests.
void checkFamily(Checker &checker, const std::string &name, at::ScalarType dtype,
                 Quantization quantization, const Placement &placement)
{
    const bool fp32 = dtype == at::kFloat;
    const std::string label = name + " " + computeDtypeName(dtype) + " "
                              + std::string(quantizationName(quantization)) + ": ";
    const Family f = familyByName(name, 11);
    int packed = 0;
    const auto dequantized = dequantizedCheckpoint(f.weights, quantization, packed);
    const MemoryTensorSource source(f.weights);
    const double limit = !fp32                                                               ? 0.03
                         : (quantization == Quantization::None && placement.device.is_cpu()) ? 1e-5
                                                                                             : 1e-4;
    const auto error = [&](const at::Tensor &ours, const at::Tensor &expected) {
        return fp32 ? maxAbsDiff(ours, expected) : relativeDiff(ours, expected);
    };

    // In bf16, Mixtral's router may pick other experts than in fp32 for a token whose k-th and
    // (k+1)-th scores are within bf16's rounding (the tiny test model's closest are 0.009
    // apart), and a token routed elsewhere differs by far more than 3%. Through one block, a
    // token routed elsewhere changes its own position only (later blocks would spread it by
    // attention): there the check is that at most 2 of the 20 positions differ.
    const bool routed = !fp32 && f.config.architecture == Architecture::Mixtral;
    const std::int64_t end = routed ? 1 : f.config.numLayers;
    auto span = BlockSpan::load(f.config, source, 0, end, dtype, quantization, placement);
    if (!span)
        return checker.fail(label + "load", span.error().message);
    const BlockSpan &blocks = **span;

    // 20 tokens: longer than the test models' sliding windows.
    const at::Tensor x = randomHidden({1, 20, f.config.hiddenSize}, 1);
    auto full = blocks.forward(x, {20});
    if (!full)
        return checker.fail(label + "forward", full.error().message);
    const at::Tensor expected = reference::blocks(f.config, dequantized, x[0], 0, end).unsqueeze(0);
    if (routed)
        checker.expect(label + "positions off the reference (routing near ties)",
                       mismatchedFraction(*full, expected, limit), kRoutedMismatch);
    else
        checker.expect(label + "blocks against the reference", error(*full, expected), limit);

    // Prefill 7, then one token at a time: the cache against the full forward.
    KvCache cache = blocks.makeCache(1, 20);
    std::vector<at::Tensor> pieces;
    auto prefill = blocks.step(x.narrow(1, 0, 7), cache, {7});
    if (!prefill)
        return checker.fail(label + "prefill", prefill.error().message);
    pieces.push_back(*prefill);
    for (std::int64_t t = 7; t < 20; ++t) {
        auto step = blocks.step(x.narrow(1, t, 1), cache, {1});
        if (!step)
            return checker.fail(label + "decode", step.error().message);
        pieces.push_back(*step);
    }
    const at::Tensor cached = at::cat(pieces, 1);
    if (routed)
        checker.expect(label + "cached decode positions off the full forward",
                       mismatchedFraction(cached, *full, limit), kRoutedMismatch);
    else
        checker.expect(label + "cached decode against the full forward", error(cached, *full),
                       limit);

    if (!fp32 || quantization != Quantization::None)
        return;
    // A batch of different lengths, the step after it not uniform either.
    const std::vector<std::int64_t> lengths = {5, 11, 8}, next = {2, 1, 0};
    const at::Tensor xs = randomHidden({3, 11, f.config.hiddenSize}, 4);
    const at::Tensor ys = randomHidden({3, 2, f.config.hiddenSize}, 5);
    KvCache batchCache = blocks.makeCache(3, 16);
    auto batchPrefill = blocks.step(xs, batchCache, lengths);
    auto batchStep = blocks.step(ys, batchCache, next);
    if (!batchPrefill || !batchStep)
        return checker.fail(label + "batch", "a batched step failed");
    double batchError = 0;
    for (std::int64_t b = 0; b < 3; ++b) {
        const std::int64_t n = lengths[std::size_t(b)], m = next[std::size_t(b)];
        const at::Tensor input = at::cat({xs[b].narrow(0, 0, n), ys[b].narrow(0, 0, m)}, 0);
        const at::Tensor expected =
            reference::blocks(f.config, f.weights, input, 0, f.config.numLayers);
        batchError = std::max(
            {batchError,
             maxAbsDiff(batchPrefill->select(0, b).narrow(0, 0, n), expected.narrow(0, 0, n)),
             m > 0 ? maxAbsDiff(batchStep->select(0, b).narrow(0, 0, m), expected.narrow(0, n, m))
                   : 0.0});
    }
    checker.expect(label + "batch of different lengths against the reference", batchError, limit);

    // The client head on the device too.
    auto model = LocalModel::fromSource(f.config, source, dtype, quantization, placement);
    if (!model)
        return checker.fail(label + "model", model.error().message);
    const std::vector<std::int64_t> ids = {1, 17, 300, 5, 5, 42, 511, 0, 99, 260, 3, 77};
    auto logits = (*model)->logits(ids);
    if (!logits)
        return checker.fail(label + "logits", logits.error().message);
    checker.expect(label + "logits against the reference (relative)",
                   relativeDiff(*logits, reference::logits(f.config, f.weights, ids)), limit);
}

int usage(const char *message)
{
    std::fprintf(stderr,
                 "testdevice: %s\nusage: testdevice [--device cpu|cuda[:N]] "
                 "[--backend native|generic]\n",
                 message);
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    ComputeDevice device;
    ComputeBackend backend = ComputeBackend::Generic;
    for (int i = 1; i < argc; ++i) {
        const std::string option = argv[i];
        if (i + 1 >= argc)
            return usage(("missing the value of " + option).c_str());
        const std::string value = argv[++i];
        if (option == "--device") {
            auto parsed = ComputeDevice::fromName(value);
            if (!parsed)
                return usage(parsed.error().message.c_str());
            device = *parsed;
        } else if (option == "--backend") {
            auto parsed = computeBackendFromName(value);
            if (!parsed)
                return usage(parsed.error().message.c_str());
            backend = *parsed;
        } else {
            return usage(("unknown option " + option).c_str());
        }
    }
    auto placement = resolvePlacement(device, backend);
    if (!placement) {
        std::fprintf(stderr, "testdevice: %s\n", placement.error().message.c_str());
        return 1;
    }
    std::printf("device %s, backend %s\n", placement->device.str().c_str(),
                std::string(computeBackendName(placement->backend)).c_str());
    Checker checker;
    try {
        for (const char *family : kFamilies)
            for (at::ScalarType dtype : {at::kFloat, at::kBFloat16})
                for (Quantization quantization :
                     {Quantization::None, Quantization::Int8, Quantization::Nf4})
                    checkFamily(checker, family, dtype, quantization, *placement);
    } catch (const std::exception &error) {
        checker.fail("unexpected exception", error.what());
    }
    std::printf("%d of %d checks passed\n", checker.checks - checker.failures, checker.checks);
    return checker.failures == 0 ? 0 : 1;
}
