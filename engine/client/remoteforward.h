#pragma once
// Forward and backward passes over the swarm, for training and batch work: whole sequences
// through every block, on the highest-throughput cover of the model (RouteKind::Forward).
// No state is kept on servers between calls, so a failed server costs only a retry of the
// span it held (banned, re-planned, recomputed); backward recomputes each hop's forward.
// Thread: the thread that calls it (not the SwarmClient's network thread).

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "client/failover.h"
#include "client/routeplanner.h"
#include "client/swarmclient.h"
#include "model/blockspan.h"

namespace corolla {

struct RemoteForwardOptions {
    proto::Codec codec =
        proto::CODEC_FP32; // lossless; losslessCodec(dtype) is the smallest that is
    int callTimeoutMs = 60000;
    int routeTimeoutMs = 15000;
    int maxFailovers = 16;
    std::string adapter; // a LoRA adapter: only servers that announce it are used
};

class RemoteForward {
public:
    RemoteForward(SwarmClient &client, std::int64_t numBlocks, RemoteForwardOptions options = {});

    // hidden [batch, T, hidden] through blocks [0, numBlocks); lengths as in BlockSpan, and
    // the model's deep prompts ([numBlocks, batch or 1, prefix, hidden]) when defined: each
    // server gets the prompts of its blocks, in float32.
    Result<at::Tensor> forward(const at::Tensor &hidden, const std::vector<std::int64_t> &lengths,
                               const DeepPrompts &prompts = {});
    // The gradients of <outputs, gradOutput> with respect to hidden and the deep prompts,
    // through every block.
    Result<SpanGradients> backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                   const std::vector<std::int64_t> &lengths,
                                   const DeepPrompts &prompts = {});

    int failovers() const { return m_failovers.spent(); }
    // The public names of the servers of the route planned last, in order (a re-plan after a
    // failure covers only the blocks from the failed hop on).
    const std::vector<std::string> &lastRoute() const { return m_lastRoute; }

private:
    struct Hop {
        RouteHop span;
        proto::ServerRecord server;
    };
    Result<std::vector<Hop>> plan(std::int64_t from, std::int64_t to);
    // A Forward call (grad undefined) or a Backward call (the prompts' gradients in
    // SpanGradients::prompts) to one hop.
    Result<SpanGradients> callHop(const Hop &hop, const at::Tensor &hidden, const at::Tensor &grad,
                                  const std::vector<std::int64_t> &lengths,
                                  const DeepPrompts &prompts);

    SwarmClient &m_client;
    std::int64_t m_numBlocks;
    RemoteForwardOptions m_options;
    FailoverBudget m_failovers;
    std::vector<std::string> m_lastRoute;
};

} // namespace corolla
