#include "client/remoteforward.h"

#include <chrono>
#include <optional>

#include <ATen/ops/cat.h>

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
        auto route = planRoute(m_client.candidates(m_numBlocks, m_options.adapter), from, to,
                               RouteKind::Forward, 0);
        if (route) {
            std::vector<Hop> hops;
            for (const RouteHop &span : *route)
                for (const proto::ServerRecord &server : servers)
                    if (server.peer_id() == span.peerId)
                        hops.push_back({span, server});
            if (hops.size() == route->size()) {
                m_lastRoute.clear();
                for (const Hop &hop : hops)
                    m_lastRoute.push_back(hop.server.public_name());
                return hops;
            }
            continue; // the swarm changed between the two looks: plan again
        }
        if (Clock::now() >= deadline)
            return makeError(ErrorCode::NotFound, route.error().message + " of model "
                                                      + m_client.modelId()
                                                      + adapterText(m_options.adapter));
        m_client.refreshNow();
        m_client.waitForServers([](const auto &) { return false; }, kMissingBlocksPollMs);
    }
}

namespace {

// The fields Forward and Backward requests share.
template <typename SpanRequest>
Result<void> fillSpanRequest(SpanRequest &request, const RouteHop &span, proto::Tensor hidden,
                             const std::vector<std::int64_t> &lengths, const DeepPrompts &prompts,
                             const std::string &adapter)
{
    request.set_start(span.start);
    request.set_end(span.end);
    request.set_adapter(adapter);
    *request.mutable_hidden() = std::move(hidden);
    request.mutable_lengths()->Add(lengths.begin(), lengths.end());
    if (!prompts.defined())
        return {};
    auto wirePrompts =
        tensorToWire(prompts.narrow(0, span.start, span.end - span.start), proto::CODEC_FP32);
    if (!wirePrompts)
        return wirePrompts.error();
    *request.mutable_prompts() = std::move(*wirePrompts);
    return {};
}

} // namespace

Result<SpanGradients> RemoteForward::callHop(const Hop &hop, const at::Tensor &hidden,
                                             const at::Tensor &grad,
                                             const std::vector<std::int64_t> &lengths,
                                             const DeepPrompts &prompts)
{
    auto wireHidden = tensorToWire(hidden, m_options.codec);
    if (!wireHidden)
        return wireHidden.error();
    proto::Request request;
    Result<void> filled;
    if (grad.defined()) {
        auto wireGrad = tensorToWire(grad, m_options.codec);
        if (!wireGrad)
            return wireGrad.error();
        *request.mutable_backward()->mutable_grad_output() = std::move(*wireGrad);
        filled = fillSpanRequest(*request.mutable_backward(), hop.span, std::move(*wireHidden),
                                 lengths, prompts, m_options.adapter);
    } else {
        filled = fillSpanRequest(*request.mutable_forward(), hop.span, std::move(*wireHidden),
                                 lengths, prompts, m_options.adapter);
    }
    if (!filled)
        return filled.error();
    auto response = m_client.call(hop.server, request, m_options.callTimeoutMs);
    if (!response)
        return peerFailure(response.error(), hop.span.peerId);
    if (response->has_error())
        return peerFailure(RpcChannel::toError(response->error()), hop.span.peerId);
    const auto misfit = [&](const char *what) {
        return peerFailure(makeError(ErrorCode::Format, what), hop.span.peerId);
    };
    if (grad.defined() ? !response->has_backward() : !response->has_forward())
        return misfit("the server answered with something else");
    auto output = tensorFromWire(grad.defined() ? response->backward().grad_input()
                                                : response->forward().hidden(),
                                 hidden.numel());
    if (!output)
        return peerFailure(output.error(), hop.span.peerId);
    if (!output->sizes().equals(hidden.sizes()))
        return misfit("the server's answer has another shape than the request");
    SpanGradients answer{std::move(*output), {}};
    if (grad.defined() && prompts.defined()) {
        if (!response->backward().has_grad_prompts())
            return misfit("the server sent no gradients of the prompts");
        const std::int64_t blocks = hop.span.end - hop.span.start;
        auto promptGrad = tensorFromWire(response->backward().grad_prompts(),
                                         prompts.numel() / prompts.size(0) * blocks);
        if (!promptGrad)
            return peerFailure(promptGrad.error(), hop.span.peerId);
        if (!promptGrad->sizes().equals(prompts.narrow(0, 0, blocks).sizes()))
            return misfit("the server's prompt gradients have another shape than the prompts");
        answer.prompts = std::move(*promptGrad);
    }
    return answer;
}

Result<at::Tensor> RemoteForward::forward(const at::Tensor &hidden,
                                          const std::vector<std::int64_t> &lengths,
                                          const DeepPrompts &prompts)
{
    at::Tensor x = hidden.to(at::kFloat).contiguous();
    std::int64_t block = 0;
    while (block < m_numBlocks) {
        auto hops = plan(block, m_numBlocks);
        if (!hops)
            return hops.error();
        for (const Hop &hop : *hops) {
            auto output = callHop(hop, x, {}, lengths, prompts);
            if (!output) {
                if (output.error().code == ErrorCode::InvalidArgument)
                    return output.error();
                if (auto giveUp = m_failovers.spend(output.error()))
                    return *giveUp;
                break; // re-plan from this block on
            }
            x = std::move(output->input);
            block = hop.span.end;
        }
    }
    return x;
}

Result<SpanGradients> RemoteForward::backward(const at::Tensor &hidden,
                                              const at::Tensor &gradOutput,
                                              const std::vector<std::int64_t> &lengths,
                                              const DeepPrompts &prompts)
{
    const DeepPrompts wirePrompts =
        prompts.defined() ? prompts.to(at::kFloat).contiguous() : at::Tensor();
    for (;;) {
        auto hops = plan(0, m_numBlocks);
        if (!hops)
            return hops.error();
        // The inputs of every hop, then the gradients back through them in reverse.
        std::vector<at::Tensor> inputs{hidden.to(at::kFloat).contiguous()};
        std::optional<Error> failure;
        for (std::size_t i = 0; i + 1 < hops->size() && !failure; ++i) {
            auto output = callHop((*hops)[i], inputs.back(), {}, lengths, wirePrompts);
            if (output)
                inputs.push_back(std::move(output->input));
            else
                failure = output.error();
        }
        SpanGradients gradients{gradOutput.to(at::kFloat).contiguous(), {}};
        std::vector<at::Tensor> promptGradients(hops->size());
        for (std::size_t i = hops->size(); i-- > 0 && !failure;) {
            auto hopGradients =
                callHop((*hops)[i], inputs[i], gradients.input, lengths, wirePrompts);
            if (hopGradients) {
                gradients.input = std::move(hopGradients->input);
                promptGradients[i] = std::move(hopGradients->prompts);
            } else {
                failure = hopGradients.error();
            }
        }
        if (!failure) {
            if (wirePrompts.defined())
                gradients.prompts = at::cat(promptGradients, 0);
            return gradients;
        }
        if (failure->code == ErrorCode::InvalidArgument)
            return *failure;
        if (auto giveUp = m_failovers.spend(*failure))
            return *giveUp;
    }
}

} // namespace corolla
