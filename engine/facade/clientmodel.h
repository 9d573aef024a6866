#pragma once
// The client part of a model joined to its swarm, as the app's chat and API use it: the
// config, tokenizer, embeddings and LM head on this machine, and a SwarmClient that opens
// sequences of the model's blocks on the swarm's servers.
// Thread: open and destroy on one thread; newRunner() (and so runners()) may be called from
// several threads at once, as the SwarmClient allows.

#include <memory>
#include <stop_token>

#include <QString>

#include "client/conversation.h"
#include "model/modelconfig.h"
#include "swarm/swarmconnection.h"

namespace corolla {

class ClientHead;
class SwarmClient;
class Tokenizer;

struct ClientModel {
    ModelConfig config;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ClientHead> head;
    std::unique_ptr<SwarmClient> client;

    // Loads the client part in `modelDir` and joins the swarm `connection` describes; an
    // error names what failed.
    static Result<std::unique_ptr<ClientModel>> open(const QString &modelDir,
                                                     const SwarmConnection &connection);
    ~ClientModel();

    // Opens the blocks on the swarm for a sequence of up to `maxLength` positions, waiting
    // up to `routeTimeoutMs` for missing blocks (their error names them).
    Result<std::unique_ptr<BlockRunner>> newRunner(std::int64_t maxLength, int routeTimeoutMs,
                                                   const std::stop_token &stop);
    // newRunner() with `routeTimeoutMs`, for a Conversation.
    Conversation::RunnerFactory runners(int routeTimeoutMs);
};

} // namespace corolla
