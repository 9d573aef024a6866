#include "facade/clientmodel.h"

#include "client/remotesession.h"
#include "client/swarmclient.h"
#include "model/blockspan.h"
#include "model/clienthead.h"
#include "swarm/modelidentity.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

ClientModel::~ClientModel() = default;

Result<std::unique_ptr<ClientModel>> ClientModel::open(const QString &modelDir,
                                                       const SwarmConnection &connection)
{
    const std::string directory = modelDir.toStdString();
    auto model = std::make_unique<ClientModel>();
    auto config = ModelConfig::load(directory);
    if (!config)
        return config.error();
    model->config = *config;
    auto modelId = modelIdForDirectory(directory);
    if (!modelId)
        return modelId.error();
    auto tokenizer = Tokenizer::load(directory);
    if (!tokenizer)
        return tokenizer.error();
    model->tokenizer = std::move(*tokenizer);
    auto head = ClientHead::open(directory, *config, scalarTypeOf(ComputeDtype::BFloat16));
    if (!head)
        return head.error();
    model->head = std::move(*head);
    auto client = SwarmClient::start(
        [connection, id = *modelId] { return makeSwarmWatcher(connection, id); }, 1000);
    if (!client)
        return client.error();
    model->client = std::move(*client);
    return model;
}

Result<std::unique_ptr<BlockRunner>>
ClientModel::newRunner(std::int64_t maxLength, int routeTimeoutMs, const std::stop_token &stop)
{
    RemoteSessionOptions options;
    options.maxLength = maxLength;
    options.codec = losslessCodec(head->dtype());
    options.routeTimeoutMs = routeTimeoutMs;
    auto session = RemoteSession::open(*client, config.numLayers, options, stop);
    if (!session)
        return session.error();
    return std::unique_ptr<BlockRunner>(std::move(*session));
}

Conversation::RunnerFactory ClientModel::runners(int routeTimeoutMs)
{
    return [this, routeTimeoutMs](std::int64_t maxLength, const std::stop_token &stop) {
        return newRunner(maxLength, routeTimeoutMs, stop);
    };
}

} // namespace corolla
