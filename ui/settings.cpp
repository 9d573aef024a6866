#include "ui/settings.h"

namespace corolla {

Settings::Settings(std::unique_ptr<QSettings> storage)
    : m_storage(std::move(storage))
{
}

SwarmSettings Settings::swarmSettings() const
{
    SwarmSettings settings;
    settings.modelDir = modelDir;
    settings.dhtBootstrap = dhtBootstrap;
    settings.lan = lanDiscovery;
    settings.staticPeers = staticPeers;
    settings.port = quint16(std::clamp(port.get(), 0, 65535));
    settings.publicName = publicName;
    return settings;
}

DonateSettings Settings::donateSettings() const
{
    DonateSettings settings;
    if (auto parsed = ComputeDevice::fromName(device.get().toStdString()))
        settings.device = *parsed; // an unknown stored name leaves the default
    settings.memoryBudgetBytes = qint64(std::max(0, memoryBudgetMiB.get())) << 20;
    settings.blockCount = std::max(0, blockCount.get());
    if (auto parsed = computeDtypeFromName(dtype.get().toStdString()))
        settings.dtype = *parsed;
    if (auto parsed = quantizationFromName(quantization.get().toStdString()))
        settings.quantization = *parsed;
    return settings;
}

ApiSettings Settings::apiSettings() const
{
    ApiSettings settings;
    settings.enabled = apiEnabled;
    settings.port = quint16(std::clamp(apiPort.get(), 1, 65535));
    settings.key = apiKey;
    return settings;
}

SamplingSettings Settings::sampling() const
{
    SamplingSettings settings;
    settings.temperature = temperature;
    settings.topP = topP;
    settings.topK = topK;
    settings.maxTokens = maxTokens;
    settings.seed = seed;
    return settings;
}

void Settings::setSampling(const SamplingSettings &settings)
{
    temperature = settings.temperature;
    topP = settings.topP;
    topK = settings.topK;
    maxTokens = settings.maxTokens;
    seed = settings.seed;
}

} // namespace corolla
