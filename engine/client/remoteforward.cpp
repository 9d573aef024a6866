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

RemoteForward::RemoteForward(SwarmClient &client, std::int64_t numBlocks, RemoteForwardOptions options)
    : m_client(client), m_numBlocks(numBlocks), m_options(options)
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
            return makeError(ErrorCode::NotFound, route.error().message + " of model " + m_client.modelId());
        m_client.refreshNow();
        m_client.waitForServers([](const auto &) { return false; }, kMissingBlocksPollMs);
    }
}

Result<void> RemoteForward::failed(const std::string &peerId, const Error &error)
{
    m_client.reportFailure(peerId);
    if (++m_failovers > m_options.maxFailovers)
        return makeError(ErrorCode::Io, "gave up after " + std::to_string(m_options.maxFailovers)
                                            + " failed servers; the last: " + error.message);
    return {};
}

Result<at::Tensor> RemoteForward::callHop(const Hop &hop, const at::Tensor &hidden, const at::Tensor &grad,
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
        return response.error();
    if (response->has_error())
        return RpcChannel::toError(response->error());
    const proto::Tensor *tensor = grad.defined() ? (response->has_backward() ? &response->backward().grad_input() : nullptr)
                                                 : (response->has_forward() ? &response->forward().hidden() : nullptr);
    if (!tensor)
        return makeError(ErrorCode::Format, "the server answered with something else");
    auto output = tensorFromWire(*tensor, hidden.numel());
    if (!output)
        return output.error();
    if (!output->sizes().equals(hidden.sizes()))
        return makeError(ErrorCode::Format, "the server's answer has another shape than the request");
    return output;
}

Result<at::Tensor> RemoteForward::forward(const at::Tensor &hidden, const std::vector<std::int64_t> &lengths)
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
                if (auto retry = failed(hop.span.peerId, output.error()); !retry)
                    return retry.error();
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
        std::string failedPeer;
        for (std::size_t i = 0; i + 1 < hops->size() && !failure; ++i) {
            auto output = callHop((*hops)[i], inputs.back(), {}, lengths);
            if (output)
                inputs.push_back(std::move(*output));
            else
                failure = output.error(), failedPeer = (*hops)[i].span.peerId;
        }
        at::Tensor grad = gradOutput.to(at::kFloat).contiguous();
        for (std::size_t i = hops->size(); i-- > 0 && !failure;) {
            auto gradInput = callHop((*hops)[i], inputs[i], grad, lengths);
            if (gradInput)
                grad = std::move(*gradInput);
            else
                failure = gradInput.error(), failedPeer = (*hops)[i].span.peerId;
        }
        if (!failure)
            return grad;
        if (failure->code == ErrorCode::InvalidArgument)
            return *failure;
        if (auto retry = failed(failedPeer, *failure); !retry)
            return retry.error();
    }
}

} // namespace corolla
