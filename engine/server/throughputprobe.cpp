#include "server/throughputprobe.h"

#include <chrono>

#include <ATen/ATen.h>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <nlohmann/json.hpp>

#include "model/blockspan.h"

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kMinProbeSeconds = 0.25;
constexpr int kMaxProbeSteps = 64;
constexpr std::int64_t kForwardTokens = 128;

double seconds(Clock::duration duration)
{
    return std::chrono::duration<double>(duration).count();
}

} // namespace

Result<BlockThroughput> measureThroughput(const BlockSpan &span)
{
    const std::int64_t hidden = span.config().hiddenSize;
    const auto blocks = double(span.end() - span.begin());
    at::manual_seed(0);
    BlockThroughput result;

    // Inference: a short prompt, then single-token steps.
    const std::int64_t prompt = 8;
    KvCache cache = span.makeCache(1, prompt + kMaxProbeSteps + 1);
    if (auto prefill = span.step(at::randn({1, prompt, hidden}), cache, {prompt}); !prefill)
        return prefill.error();
    const at::Tensor token = at::randn({1, 1, hidden});
    int steps = 0;
    const Clock::time_point start = Clock::now();
    while (steps < kMaxProbeSteps
           && (steps < 4 || seconds(Clock::now() - start) < kMinProbeSeconds)) {
        if (auto step = span.step(token, cache, {1}); !step)
            return step.error();
        ++steps;
    }
    result.inferenceRps = steps / seconds(Clock::now() - start) * blocks;

    // Forward: a batch of tokens without a lasting cache.
    const at::Tensor batch = at::randn({1, kForwardTokens, hidden});
    int passes = 0;
    const Clock::time_point forwardStart = Clock::now();
    while (passes < 2 || (passes < 16 && seconds(Clock::now() - forwardStart) < kMinProbeSeconds)) {
        if (auto output = span.forward(batch, {kForwardTokens}); !output)
            return output.error();
        ++passes;
    }
    result.forwardRps =
        passes * double(kForwardTokens) / seconds(Clock::now() - forwardStart) * blocks;
    return result;
}

std::string ThroughputCache::key(const std::string &modelId, ComputeDtype dtype,
                                 Quantization quantization, const ComputeDevice &device,
                                 int threads)
{
    // Unpacked spans keep the key they had before quantization existed.
    const std::string weights = quantization == Quantization::None
                                    ? std::string()
                                    : "|" + std::string(quantizationName(quantization));
    return modelId + "|" + std::string(computeDtypeName(dtype)) + weights + "|" + device.name()
           + "|" + std::to_string(threads) + " threads";
}

std::optional<BlockThroughput> ThroughputCache::find(const std::string &key) const
{
    QFile file(QString::fromStdString(m_path));
    if (!file.open(QIODevice::ReadOnly))
        return std::nullopt;
    const nlohmann::json json = nlohmann::json::parse(file.readAll().toStdString(), nullptr, false);
    if (!json.is_object() || !json.contains(key) || !json[key].is_object())
        return std::nullopt;
    const nlohmann::json &entry = json[key];
    const double inference = entry.value("inference_rps", 0.0),
                 forward = entry.value("forward_rps", 0.0);
    if (!(inference > 0.0) || !(forward > 0.0))
        return std::nullopt;
    return BlockThroughput{inference, forward};
}

void ThroughputCache::store(const std::string &key, const BlockThroughput &throughput) const
{
    const QString path = QString::fromStdString(m_path);
    nlohmann::json json = nlohmann::json::object();
    if (QFile file(path); file.open(QIODevice::ReadOnly)) {
        json = nlohmann::json::parse(file.readAll().toStdString(), nullptr, false);
        if (!json.is_object())
            json = nlohmann::json::object();
    }
    json[key] = {{"inference_rps", throughput.inferenceRps},
                 {"forward_rps", throughput.forwardRps}};
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile file(path);
    if (file.open(QIODevice::WriteOnly)) {
        file.write(QByteArray::fromStdString(json.dump(2)));
        file.commit();
    }
}

} // namespace corolla
