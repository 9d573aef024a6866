#include "facade/modelcatalog.h"

#include <nlohmann/json.hpp>

#include "model/modelconfig.h"
#include "server/memoryplan.h"

namespace corolla {

namespace {

constexpr int kBf16Bytes = 2;

// Blocks in `quantization`, the client part (embeddings, final norm, LM head) in bf16.
qint64 modelBytes(const ModelConfig &config, Quantization quantization)
{
    if (!checkQuantizable(config, quantization))
        return -1;
    const qint64 embeddings = qint64(config.vocabSize) * config.hiddenSize * kBf16Bytes;
    const qint64 head = config.tieWordEmbeddings ? 0 : embeddings;
    // The final norm; BLOOM also norms the embeddings; BLOOM's and Falcon's norms have biases.
    const int normTensors = config.architecture == Architecture::Bloom    ? 4
                            : config.architecture == Architecture::Falcon ? 2
                                                                          : 1;
    const qint64 norms = qint64(normTensors) * config.hiddenSize * kBf16Bytes;
    return config.numLayers * blockWeightBytes(config, kBf16Bytes, quantization) + embeddings + head
           + norms;
}

} // namespace

QList<CatalogModel> parseModelCatalog(const QByteArray &catalogJson, QString *error)
{
    QList<CatalogModel> models;
    const auto json = nlohmann::json::parse(catalogJson.toStdString(), nullptr, false);
    if (!json.is_object() || !json.contains("models") || !json["models"].is_array()) {
        if (error)
            *error = QStringLiteral("the model catalog has no models list");
        return models;
    }
    for (const auto &entry : json["models"]) {
        if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string()
            || !entry.contains("config") || !entry["config"].is_object())
            continue;
        const std::string id = entry["id"].get<std::string>();
        auto config = ModelConfig::parse(entry["config"].dump(), id);
        if (!config) {
            if (error)
                *error = QString::fromStdString(config.error().toString());
            continue;
        }
        CatalogModel model;
        model.id = QString::fromStdString(id);
        model.family = QString::fromStdString(entry["config"].value("model_type", std::string()));
        model.parameters = QString::fromStdString(entry.value("parameters", std::string()));
        model.note = QString::fromStdString(entry.value("note", std::string()));
        model.blocks = config->numLayers;
        model.bytesBf16 = modelBytes(*config, Quantization::None);
        model.bytesInt8 = modelBytes(*config, Quantization::Int8);
        model.bytesNf4 = modelBytes(*config, Quantization::Nf4);
        models.push_back(model);
    }
    return models;
}

} // namespace corolla
