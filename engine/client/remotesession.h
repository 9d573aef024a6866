#pragma once
// An inference session over the swarm: the model's blocks as a BlockRunner whose KV caches
// live on the servers of a route. The client keeps what it sent to every hop; when a server
// fails (connection lost, error, no answer in time) it is banned for a while, the blocks it
// held are re-planned over the others, the new servers are given the same steps again so
// they rebuild the same caches, and the step goes on. Replaying the steps as they were first
// sent makes the new caches equal to the lost ones, so the output does not change.
// Thread: the thread that calls it (not the SwarmClient's network thread).

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "client/failover.h"
#include "client/routeplanner.h"
#include "client/swarmclient.h"
#include "model/generation.h"

namespace corolla {

// The codec that carries hidden states computed in `computeDtype` without loss: the wire
// never rounds what the blocks computed unless a smaller codec is asked for.
proto::Codec losslessCodec(at::ScalarType computeDtype);

struct RemoteSessionOptions {
    std::int64_t maxLength = 2048;          // positions the session may hold
    proto::Codec codec = proto::CODEC_FP32; // hidden states on the wire (lossless for any dtype)
    int stepTimeoutMs = 30000;              // a server silent this long has failed
    int routeTimeoutMs = 15000;             // how long to wait for missing blocks to appear
    int maxFailovers = 16;
    // Deep prompts of every block ([numBlocks, 1, prefix, hidden]): each server gets its
    // blocks' prompts with the steps that hold prefix positions.
    DeepPrompts prompts;
    std::string adapter; // a LoRA adapter: only servers that announce it are used
};

class RemoteSession : public BlockRunner {
public:
    // Plans a route over every block of the model and opens a session on each hop; waiting
    // for missing blocks or for a server ends with a Cancelled error once `stop` is requested.
    static Result<std::unique_ptr<RemoteSession>> open(SwarmClient &client, std::int64_t numBlocks,
                                                       RemoteSessionOptions options,
                                                       const std::stop_token &stop = {});
    ~RemoteSession() override;

    Result<at::Tensor> step(const at::Tensor &hidden, const std::stop_token &stop) override;
    std::int64_t position() const override { return m_position; }

    // The route in use now, with the public names of its servers.
    struct Hop {
        RouteHop span;
        proto::ServerRecord server;
        std::unique_ptr<ClientStream> stream;
        std::vector<at::Tensor> inputs; // every step this hop was given, in order
    };
    const std::vector<Hop> &route() const { return m_hops; }
    std::string routeText() const;
    int failovers() const { return m_failovers.spent(); }

private:
    RemoteSession(SwarmClient &client, std::int64_t numBlocks, RemoteSessionOptions options);

    // Hops covering [from, to), each with an open session that has been given `history`
    // (the inputs of the lost hop) so its cache holds the same positions.
    Result<std::vector<Hop>> connect(std::int64_t from, std::int64_t to,
                                     const std::vector<at::Tensor> &history,
                                     const std::stop_token &stop);
    // Opens `route` and replays `history` through it; a failure names its peer (Error::peerId).
    Result<std::vector<Hop>> tryRoute(const std::vector<RouteHop> &route,
                                      const std::vector<at::Tensor> &history,
                                      const std::stop_token &stop);
    Result<at::Tensor> runStep(Hop &hop, const at::Tensor &input, const std::stop_token &stop);
    // The deep prompts a step of `span` starting at `position` carries (undefined: none).
    at::Tensor promptsFor(const RouteHop &span, std::int64_t position) const;
    // Closes the server's session of `hop` without waiting for its answer.
    static void closeSession(Hop &hop);
    // Closes the servers' sessions of `hops` and forgets the hops.
    static void closeHops(std::vector<Hop> &hops);

    SwarmClient &m_client;
    std::int64_t m_numBlocks;
    RemoteSessionOptions m_options;
    std::vector<Hop> m_hops;
    std::int64_t m_position = 0;
    FailoverBudget m_failovers;
};

} // namespace corolla
