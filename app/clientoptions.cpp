#include "app/clientoptions.h"

#include <QDir>

#include "app/modelsource.h"
#include "app/swarmoptions.h"
#include "net/tensorcodec.h"
#include "swarm/modelidentity.h"
#include "train/promptedrunner.h"

namespace corolla {

void addSamplingOptions(CommandParser &parser, const QString &defaultMaxNewTokens)
{
    parser.addValueOption(QStringLiteral("max-new-tokens"), QStringLiteral("N"),
                          QStringLiteral("tokens to generate at most"), defaultMaxNewTokens);
    parser.addValueOptions({
        {"temperature", "T", "0 for greedy decoding", "0"},
        {"top-p", "P", "nucleus size", "1"},
        {"top-k", "K", "keep the K likeliest tokens (0: all)", "0"},
        {"repetition-penalty", "R", "penalty for repeated tokens (1: none)", "1"},
        {"seed", "S", "sampling seed", "0"},
    });
}

GenerationOptions generationOptions(CommandParser &parser)
{
    GenerationOptions options;
    options.maxNewTokens = parser.integer(QStringLiteral("max-new-tokens"), 0, 1 << 20);
    options.sampling.temperature = parser.number(QStringLiteral("temperature"), 0.0, 100.0);
    options.sampling.topP = parser.number(QStringLiteral("top-p"), 0.0, 1.0);
    options.sampling.topK = parser.integer(QStringLiteral("top-k"), 0, INT32_MAX);
    options.sampling.repetitionPenalty =
        parser.number(QStringLiteral("repetition-penalty"), 1e-3, 100.0);
    options.sampling.seed = std::uint64_t(parser.integer(QStringLiteral("seed"), 0, INT64_MAX));
    return options;
}

void addSwarmClientOptions(CommandParser &parser)
{
    parser.addFlag(QStringLiteral("swarm"),
                   QStringLiteral("run the blocks on the swarm, not on this machine"));
    addRegistryOptions(parser);
    addWireDtypeOption(parser);
    parser.addValueOptions({
        {"step-timeout", "SECONDS", "a server silent this long counts as failed", "30"},
        {"route-timeout", "SECONDS", "how long to wait for servers of missing blocks", "15"},
    });
}

void addWireDtypeOption(CommandParser &parser)
{
    parser.addValueOption(
        QStringLiteral("wire-dtype"), QStringLiteral("auto|fp32|bf16|fp16|int8"),
        QStringLiteral("hidden states on the wire; auto: the compute dtype, lossless"),
        QStringLiteral("auto"));
}

Result<proto::Codec> wireCodec(CommandParser &parser, at::ScalarType computeDtype)
{
    const std::string name = parser.text(QStringLiteral("wire-dtype"));
    if (name == "auto")
        return losslessCodec(computeDtype);
    return parseCodec(name);
}

Result<RemoteSessionOptions> remoteSessionOptions(CommandParser &parser,
                                                  at::ScalarType computeDtype)
{
    RemoteSessionOptions options;
    auto codec = wireCodec(parser, computeDtype);
    if (!codec)
        return codec.error();
    options.codec = *codec;
    options.stepTimeoutMs = int(parser.number(QStringLiteral("step-timeout"), 0.1, 3600.0) * 1000);
    options.routeTimeoutMs =
        int(parser.number(QStringLiteral("route-timeout"), 0.0, 3600.0) * 1000);
    return options;
}

nlohmann::json routeJson(const RemoteSession &session)
{
    nlohmann::json hops = nlohmann::json::array();
    for (const RemoteSession::Hop &hop : session.route())
        hops.push_back({{"start", hop.span.start},
                        {"end", hop.span.end},
                        {"peer_id", hop.server.peer_id()},
                        {"name", hop.server.public_name()}});
    return hops;
}

namespace {

Result<ClientModelOptions> readClientModelOptions(CommandParser &parser)
{
    ClientModelOptions options;
    options.modelDir = parser.text(QStringLiteral("model"));
    auto dtype = parseComputeDtype(parser.text(QStringLiteral("dtype")));
    if (!dtype)
        return dtype.error();
    options.dtype = *dtype;
    options.quantization = quantOption(parser);
    options.device = deviceOptions(parser);
    options.promptsDir = parser.text(QStringLiteral("prompts"));
    options.adapter = parser.text(QStringLiteral("adapter"));
    options.swarm = parser.isSet(QStringLiteral("swarm"));
    if (!options.swarm)
        return options;
    if (options.quantization != Quantization::None)
        parser.error(QStringLiteral("--quant packs the blocks of a model on this machine; with "
                                    "--swarm the servers hold the blocks (corolla serve --quant)"));
    auto sessionOptions = remoteSessionOptions(parser, options.dtype);
    if (!sessionOptions)
        return sessionOptions.error();
    options.sessionOptions = *sessionOptions;
    options.sessionOptions.adapter = options.adapter.empty() ? "" : adapterName(options.adapter);
    auto connection = swarmConnection(parser);
    if (!connection)
        return connection.error();
    options.connection = std::move(*connection);
    return options;
}

} // namespace

void addClientModelOptions(CommandParser &parser, const QString &defaultDtype)
{
    parser.addValueOption(QStringLiteral("model"), QStringLiteral("DIR|ORG/NAME[@REV]"),
                          QStringLiteral("checkpoint folder, or a Hub model (downloaded first)"));
    parser.addValueOption(QStringLiteral("dtype"), QStringLiteral("fp32|bf16"),
                          QStringLiteral("compute dtype on this machine"), defaultDtype);
    addQuantOption(parser);
    addDeviceOptions(parser);
    parser.addValueOption(QStringLiteral("prompts"), QStringLiteral("DIR"),
                          QStringLiteral("trained prompts to put before every sequence (the "
                                         "--out folder of corolla finetune)"));
    parser.addValueOption(QStringLiteral("adapter"), QStringLiteral("ORG/NAME|DIR"),
                          QStringLiteral("a LoRA adapter: loaded here, or with --swarm only "
                                         "servers that serve it (by that name) are used"));
    addSwarmClientOptions(parser);
}

std::optional<ClientModelOptions> clientModelOptions(CommandParser &parser, const char *command,
                                                     int &exitCode)
{
    auto options = readClientModelOptions(parser);
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    if (!options) {
        exitCode = reportError(command, options.error().toString());
        return std::nullopt;
    }
    // A Hub model: all of it on this machine, only the client part with a swarm.
    auto folder = modelFolder(options->modelDir, options->swarm ? clientPart() : allWeights());
    if (!folder) {
        exitCode = reportError(command, folder.error().toString());
        return std::nullopt;
    }
    options->modelDir = *folder;
    return std::move(*options);
}

Result<TrainablePrompts> loadTrainedPrompts(const std::string &promptsDir,
                                            const std::string &modelDir, const ModelConfig &config)
{
    const std::string file = QDir(QString::fromStdString(promptsDir))
                                 .filePath(QStringLiteral("prompts.safetensors"))
                                 .toStdString();
    auto modelId = modelIdForDirectory(modelDir);
    if (!modelId)
        return modelId.error();
    return TrainablePrompts::load(file, config, *modelId);
}

Result<std::unique_ptr<ModelBackend>> ModelBackend::open(const ClientModelOptions &options)
{
    auto backend = openBlocks(options);
    if (!backend || options.promptsDir.empty())
        return backend;
    auto prompts = loadTrainedPrompts(options.promptsDir, options.modelDir, (*backend)->m_config);
    if (!prompts)
        return prompts.error();
    (*backend)->m_prompts = std::move(*prompts);
    return backend;
}

Result<std::unique_ptr<ModelBackend>> ModelBackend::openBlocks(const ClientModelOptions &options)
{
    const std::string &directory = options.modelDir;
    auto backend = std::make_unique<ModelBackend>();
    auto placement = resolvePlacement(options.device.device, options.device.backend);
    if (!placement)
        return placement.error();
    if (!options.swarm) {
        auto local = LocalModel::open(directory, options.dtype, options.quantization, *placement);
        if (!local)
            return local.error();
        backend->m_local = std::move(*local);
        backend->m_config = backend->m_local->config();
        if (!options.adapter.empty()) {
            auto location = adapterFolder(options.adapter);
            if (!location)
                return location.error();
            auto adapter =
                LoraAdapter::load(location->folder, location->name, backend->m_config, 0,
                                  backend->m_config.numLayers, options.dtype, placement->device);
            if (!adapter)
                return adapter.error();
            backend->m_adapter = std::make_unique<LoraAdapter>(std::move(*adapter));
        }
        return backend;
    }

    backend->m_sessionOptions = options.sessionOptions;
    auto model = resolveModel(directory);
    if (!model)
        return model.error();
    if (model->directory.empty())
        return makeError(ErrorCode::NotFound,
                         directory
                             + ": the client part of the model (config, tokenizer, "
                               "embeddings, LM head) must be a local folder");
    auto config = ModelConfig::load(directory);
    if (!config)
        return config.error();
    backend->m_config = *config;
    auto head = ClientHead::open(directory, *config, options.dtype, *placement);
    if (!head)
        return head.error();
    backend->m_head = std::move(*head);
    auto swarm =
        SwarmClient::start([connection = options.connection,
                            modelId = model->id] { return makeSwarmWatcher(connection, modelId); },
                           1000);
    if (!swarm)
        return swarm.error();
    backend->m_swarm = std::move(*swarm);
    return backend;
}

Result<std::unique_ptr<BlockRunner>> ModelBackend::newSession(std::int64_t maxLength,
                                                              const std::stop_token &stop)
{
    // With prompts, the blocks hold their prefix before the sequence's own positions.
    const std::int64_t prefix = m_prompts ? m_prompts->prefixLength() : 0;
    const DeepPrompts deep = m_prompts ? m_prompts->deep : DeepPrompts();
    std::unique_ptr<BlockRunner> runner;
    if (m_local) {
        runner = std::make_unique<LocalBlockRunner>(m_local->blocks(), prefix + maxLength, deep,
                                                    m_adapter.get());
    } else {
        RemoteSessionOptions options = m_sessionOptions;
        options.maxLength = prefix + maxLength;
        options.prompts = deep;
        auto session = RemoteSession::open(*m_swarm, m_config.numLayers, options, stop);
        if (!session)
            return session.error();
        runner = std::move(*session);
    }
    if (m_prompts)
        runner = std::make_unique<PromptedRunner>(std::move(runner), m_prompts->prefix);
    return runner;
}

} // namespace corolla
