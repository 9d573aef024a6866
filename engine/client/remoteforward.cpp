#include "client/remoteforward.h"

#include <chrono>
#include <optional>

#include "net/rpcchannel.h"
#include "wire/wiretensor.h"

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMissingBlocksPollMs = 500;

} // namespace

RemoteForward::RemoteForward(SwarmClient &client, std::int64_t numBlocks,
                             RemoteForwardOptions options)
    : m_client(client)
    , m_numBlocks(numBlocks)
    , m_options(options)
    , m_failovers(client, options.maxFailovers)
{
}

Result<std::vector<RemoteForward::Hop>> RemoteForward::plan(std::int64_t from, std::int64_t to)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(m_options.routeTimeoutMs);
    for (;;) {
        const std::vector<proto::ServerRecord> servers = m_client.servers();
        auto route = planRoute(m_client.candidates(m_numBlocks), from, to, RouteKind::Forward, 0);
        if (route) {
            std::vector<Hop> hops;
            for (const RouteHop &span : *route)
                for (const proto::ServerRecord &server : servers)
                    if (server.peer_id() == span.peerId)
                        hops.push_back({span, server});
            if (hops.size() == route->size())
                return hops;
            continue; // the swarm changed between the two looks: plan again
        }
        if (Clock::now() >= deadline)
            return makeError(ErrorCode::NotFound,
                             route.error().message + " of model " + m_client.modelId());
        m_client.refreshNow();
        m_client.waitForServers([](const auto &) { return false; }, kMissingBlocksPollMs);
    }
}

Result<at::Tensor> RemoteForward::callHop(const Hop &hop, const at::Tensor &hidden,
                                          const at::Tensor &grad,
                                          const std::vector<std::int64_t> &lengths)
{
    auto wireHidden = tensorToWire(hidden, m_options.codec);
    if (!wireHidden)
        return wireHidden.error();
    proto::Request request;
    if (grad.defined()) {
        auto wireGrad = tensorToWire(grad, m_options.codec);
        if (!wireGrad)
            return wireGrad.error();
        proto::BackwardRequest &backward = *request.mutable_backward();
        backward.set_start(hop.span.start);
        backward.set_end(hop.span.end);
        *backward.mutable_hidden() = std::move(*wireHidden);
        *backward.mutable_grad_output() = std::move(*wireGrad);
        backward.mutable_lengths()->Add(lengths.begin(), lengths.end());
    } else {
        proto::ForwardRequest &forward = *request.mutable_forward();
        forward.set_start(hop.span.start);
        forward.set_end(hop.span.end);
        *forward.mutable_hidden() = std::move(*wireHidden);
        forward.mutable_lengths()->Add(lengths.begin(), lengths.end());
    }
    auto response = m_client.call(hop.server, request, m_options.callTimeoutMs);
    if (!response)
        return peerFailure(response.error(), hop.span.peerId);
    if (response->has_error())
        return peerFailure(RpcChannel::toError(response->error()), hop.span.peerId);
    const proto::Tensor *tensor =
        grad.defined() ? (response->has_backward() ? &response->backward().grad_input() : nullptr)
                       : (response->has_forward() ? &response->forward().hidden() : nullptr);
    if (!tensor)
        return peerFailure(makeError(ErrorCode::Format, "the server answered with something else"),
                           hop.span.peerId);
    auto output = tensorFromWire(*tensor, hidden.numel());
    if (!output)
        return peerFailure(output.error(), hop.span.peerId);
    if (!output->sizes().equals(hidden.sizes()))
        return peerFailure(
            makeError(ErrorCode::Format, "the server's answer has another shape than the request"),
            hop.span.peerId);
    return output;
}

Result<at::Tensor> RemoteForward::forward(const at::Tensor &hidden,
                                          const std::vector<std::int64_t> &lengths)
{
    at::Tensor x = hidden.to(at::kFloat).contiguous();
    std::int64_t block = 0;
    while (block < m_numBlocks) {
        auto hops = plan(block, m_numBlocks);
        if (!hops)
            return hops.error();
        for (const Hop &hop : *hops) {
            auto output = callHop(hop, x, {}, lengths);
            if (!output) {
                if (output.error().code == ErrorCode::InvalidArgument)
                    return output.error();
                if (auto giveUp = m_failovers.spend(output.error()))
                    return *giveUp;
                break; // re-plan from this block on
            }
            x = std::move(*output);
            block = hop.span.end;
        }
    }
    return x;
}

Result<at::Tensor> RemoteForward::backward(const at::Tensor &hidden, const at::Tensor &gradOutput,
                                           const std::vector<std::int64_t> &lengths)
{
    for (;;) {
        auto hops = plan(0, m_numBlocks);
        if (!hops)
            return hops.error();
        // The inputs of every hop, then the gradients back through them in reverse.
        std::vector<at::Tensor> inputs{hidden.to(at::kFloat).contiguous()};
        std::optional<Error> failure;
        for (std::size_t i = 0; i + 1 < hops->size() && !failure; ++i) {
            auto output = callHop((*hops)[i], inputs.back(), {}, lengths);
            if (output)
                inputs.push_back(std::move(*output));
            else
                failure = output.error();
        }
        at::Tensor grad = gradOutput.to(at::kFloat).contiguous();
        for (std::size_t i = hops->size(); i-- > 0 && !failure;) {
            auto gradInput = callHop((*hops)[i], inputs[i], grad, lengths);
            if (gradInput)
                grad = std::move(*gradInput);
            else
                failure = gradInput.error();
        }
        if (!failure)
            return grad;
        if (failure->code == ErrorCode::InvalidArgument)
            return *failure;
        if (auto giveUp = m_failovers.spend(*failure))
            return *giveUp;
    }
}

} // namespace corolla
