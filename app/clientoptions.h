#pragma once
// What generate, chat and bench swarm share: sampling options, and the blocks of a model
// either on this machine or on a swarm behind one BlockRunner interface.
// Thread: main.

#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "app/commandparser.h"
#include "client/remotesession.h"
#include "client/swarmclient.h"
#include "model/clienthead.h"
#include "model/generation.h"
#include "model/localmodel.h"
#include "swarm/swarmconnection.h"
#include "train/trainableprompts.h"

namespace corolla {

// --max-new-tokens, --temperature, --top-p, --top-k, --repetition-penalty, --seed.
void addSamplingOptions(CommandParser &parser, const QString &defaultMaxNewTokens);
GenerationOptions generationOptions(CommandParser &parser);

// --swarm and how to reach it (registries, --wire-dtype, timeouts).
void addSwarmClientOptions(CommandParser &parser);
Result<RemoteSessionOptions> remoteSessionOptions(CommandParser &parser,
                                                  at::ScalarType computeDtype);

// --wire-dtype: `auto` (the default) is the lossless codec of the compute dtype.
void addWireDtypeOption(CommandParser &parser);
Result<proto::Codec> wireCodec(CommandParser &parser, at::ScalarType computeDtype);

// --model, --dtype, and --swarm with how to reach it: the option group that opens a
// ModelBackend.
struct ClientModelOptions {
    std::string modelDir;
    at::ScalarType dtype = at::kFloat;
    Quantization quantization = Quantization::None; // of a local model's blocks
    DeviceChoice device; // where the local model, or with --swarm the client head, computes
    bool swarm = false;
    SwarmConnection connection;          // with swarm
    RemoteSessionOptions sessionOptions; // with swarm
    std::string promptsDir;              // --prompts: trained prompts put before every sequence
    std::string adapter; // --adapter: a LoRA adapter (its folder or Hub name; a swarm's name)
};
// --model, --dtype (default `defaultDtype`), --quant (local models only), --prompts, --swarm
// and its options.
void addClientModelOptions(CommandParser &parser, const QString &defaultDtype);
// The options given, once the command's own values are read (their errors recorded in the
// parser); nullopt with the exit code after a usage error (2) or a static peers file that
// cannot be read (1, reported as `command`'s error).
std::optional<ClientModelOptions> clientModelOptions(CommandParser &parser, const char *command,
                                                     int &exitCode);

// The hops of a session's route, for events: [{start, end, peer_id, name}, ...].
nlohmann::json routeJson(const RemoteSession &session);

// A model to generate with: the client head and the blocks, local or on a swarm.
class ModelBackend {
public:
    // Local with everything in modelDir, or (with swarm) the client part from modelDir and
    // the blocks from the swarm the options describe.
    static Result<std::unique_ptr<ModelBackend>> open(const ClientModelOptions &options);

    const ModelConfig &config() const { return m_config; }
    const ClientHead &head() const { return m_local ? m_local->head() : *m_head; }
    bool isSwarm() const { return m_swarm != nullptr; }
    SwarmClient *swarm() const { return m_swarm.get(); }
    // The blocks on this machine; null with a swarm.
    const BlockSpan *localBlocks() const { return m_local ? &m_local->blocks() : nullptr; }
    // The LoRA adapter the local blocks run with (--adapter); null with a swarm or none.
    const LoraAdapter *localAdapter() const { return m_adapter.get(); }
    // The trained prompts in front of every sequence (--prompts), when given.
    const std::optional<TrainablePrompts> &prompts() const { return m_prompts; }

    // Fresh blocks state for a sequence of up to maxLength positions (behind the prompts).
    Result<std::unique_ptr<BlockRunner>> newSession(std::int64_t maxLength,
                                                    const std::stop_token &stop = {});

private:
    static Result<std::unique_ptr<ModelBackend>> openBlocks(const ClientModelOptions &options);

    ModelConfig m_config;
    std::unique_ptr<LocalModel> m_local;
    std::unique_ptr<ClientHead> m_head;
    std::unique_ptr<SwarmClient> m_swarm;
    RemoteSessionOptions m_sessionOptions;
    std::optional<TrainablePrompts> m_prompts;
    std::unique_ptr<LoraAdapter> m_adapter;
};

// The prompts `corolla finetune --out DIR` wrote to DIR, checked against the model of
// `modelDir` (the same id) and its config.
Result<TrainablePrompts> loadTrainedPrompts(const std::string &promptsDir,
                                            const std::string &modelDir, const ModelConfig &config);

} // namespace corolla
