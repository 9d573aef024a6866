#include "client/remotesession.h"

#include <chrono>
#include <set>

#include "net/identity.h"
#include "net/rpcchannel.h"
#include "wire/wiretensor.h"

namespace corolla {

namespace {

constexpr int kPingTimeoutMs = 2000;
constexpr std::size_t kReplayWindow = 128; // steps in flight while a new server catches up
constexpr int kMissingBlocksPollMs = 500;

using Clock = std::chrono::steady_clock;

proto::Request openRequest(const RouteHop &hop, std::int64_t maxLength, proto::Codec codec,
                           const std::string &adapter)
{
    proto::Request request;
    proto::OpenSessionRequest &open = *request.mutable_open_session();
    open.set_start(hop.start);
    open.set_end(hop.end);
    open.set_batch(1);
    open.set_max_length(maxLength);
    open.set_reply_codec(codec);
    open.set_adapter(adapter);
    return request;
}

// A step of `hidden`, with the hop's deep prompts (in fp32) when they are defined.
Result<proto::Request> stepRequest(const at::Tensor &hidden, proto::Codec codec,
                                   const at::Tensor &prompts)
{
    auto wire = tensorToWire(hidden, codec);
    if (!wire)
        return wire.error();
    proto::Request request;
    *request.mutable_step()->mutable_hidden() = std::move(*wire);
    if (prompts.defined()) {
        auto promptWire = tensorToWire(prompts.contiguous(), proto::CODEC_FP32);
        if (!promptWire)
            return promptWire.error();
        *request.mutable_step()->mutable_prompts() = std::move(*promptWire);
    }
    return request;
}

// The hidden states of `peerId`'s step reply, which must have the shape that was sent.
Result<at::Tensor> stepOutput(const Result<proto::Response> &response, const at::Tensor &input,
                              const std::string &peerId)
{
    if (!response)
        return peerFailure(response.error(), peerId);
    if (response->has_error())
        return peerFailure(RpcChannel::toError(response->error()), peerId);
    if (!response->has_step())
        return peerFailure(
            makeError(ErrorCode::Format, "the server answered a step with something else"), peerId);
    auto output = tensorFromWire(response->step().hidden(), input.numel());
    if (!output)
        return peerFailure(output.error(), peerId);
    if (!output->sizes().equals(input.sizes()))
        return peerFailure(
            makeError(ErrorCode::Format, "the server's output has another shape than its input"),
            peerId);
    return output;
}

std::string shortName(const proto::ServerRecord &server)
{
    return server.public_name().empty() ? shortPeerId(server.peer_id()) : server.public_name();
}

} // namespace

proto::Codec losslessCodec(at::ScalarType computeDtype)
{
    switch (computeDtype) {
    case at::kBFloat16: return proto::CODEC_BF16;
    case at::kHalf: return proto::CODEC_FP16;
    default: return proto::CODEC_FP32;
    }
}

RemoteSession::RemoteSession(SwarmClient &client, std::int64_t numBlocks,
                             RemoteSessionOptions options)
    : m_client(client)
    , m_numBlocks(numBlocks)
    , m_options(options)
    , m_failovers(client, options.maxFailovers)
{
}

Result<std::unique_ptr<RemoteSession>> RemoteSession::open(SwarmClient &client,
                                                           std::int64_t numBlocks,
                                                           RemoteSessionOptions options,
                                                           const std::stop_token &stop)
{
    auto session = std::unique_ptr<RemoteSession>(new RemoteSession(client, numBlocks, options));
    auto hops = session->connect(0, numBlocks, {}, stop);
    if (!hops)
        return hops.error();
    session->m_hops = std::move(*hops);
    return session;
}

RemoteSession::~RemoteSession()
{
    closeHops(m_hops);
}

void RemoteSession::closeSession(Hop &hop)
{
    proto::Request close;
    close.mutable_close_session();
    hop.stream->send(close); // no need to wait: the server frees the cache on receipt
}

void RemoteSession::closeHops(std::vector<Hop> &hops)
{
    for (Hop &hop : hops)
        closeSession(hop);
    hops.clear();
}

std::string RemoteSession::routeText() const
{
    std::string text;
    for (const Hop &hop : m_hops) {
        text += text.empty() ? "" : ", ";
        text += "blocks " + std::to_string(hop.span.start) + "-" + std::to_string(hop.span.end - 1)
                + " on " + shortName(hop.server) + " (" + shortPeerId(hop.server.peer_id()) + ")";
    }
    return text;
}

at::Tensor RemoteSession::promptsFor(const RouteHop &span, std::int64_t position) const
{
    const DeepPrompts &prompts = m_options.prompts;
    if (!prompts.defined() || position >= prompts.size(2))
        return {};
    return prompts.narrow(0, span.start, span.end - span.start);
}

Result<at::Tensor> RemoteSession::runStep(Hop &hop, const at::Tensor &input,
                                          const std::stop_token &stop)
{
    auto request = stepRequest(input, m_options.codec, promptsFor(hop.span, m_position));
    if (!request)
        return request.error();
    hop.stream->send(*request);
    return stepOutput(hop.stream->receive(m_options.stepTimeoutMs, stop), input,
                      hop.server.peer_id());
}

Result<std::vector<RemoteSession::Hop>>
RemoteSession::tryRoute(const std::vector<RouteHop> &route, const std::vector<at::Tensor> &history,
                        const std::stop_token &stop)
{
    const std::vector<proto::ServerRecord> servers = m_client.servers();
    // Every hop lives in `hops` from before its session is opened, so that when a later hop
    // fails, the sessions opened so far (and the one being opened) are all closed again.
    std::vector<Hop> hops;
    hops.reserve(route.size());
    struct CloseOnFailure {
        std::vector<Hop> &hops;
        bool armed = true;
        ~CloseOnFailure()
        {
            if (armed)
                closeHops(hops);
        }
    } closer{hops};
    std::vector<at::Tensor> inputs = history;
    for (const RouteHop &span : route) {
        auto server = std::find_if(servers.begin(), servers.end(), [&](const auto &record) {
            return record.peer_id() == span.peerId;
        });
        if (server == servers.end())
            return peerFailure(makeError(ErrorCode::NotFound, "left the swarm"), span.peerId);
        Hop &hop = hops.emplace_back(Hop{span, *server, m_client.openStream(*server), {}});
        hop.stream->send(
            openRequest(span, m_options.maxLength, m_options.codec, m_options.adapter));
        auto opened = hop.stream->receive(m_options.stepTimeoutMs, stop);
        if (!opened)
            return opened.error();
        if (opened->has_error())
            return peerFailure(RpcChannel::toError(opened->error()), span.peerId);

        // Catch up: the same steps, in the same order, with a window of them in flight.
        std::vector<at::Tensor> outputs;
        std::size_t sent = 0;
        std::int64_t position = 0; // of the next step sent
        while (outputs.size() < inputs.size()) {
            for (; sent < inputs.size() && sent - outputs.size() < kReplayWindow; ++sent) {
                auto request =
                    stepRequest(inputs[sent], m_options.codec, promptsFor(span, position));
                position += inputs[sent].size(1);
                if (!request)
                    return request.error();
                hop.stream->send(*request);
            }
            auto output = stepOutput(hop.stream->receive(m_options.stepTimeoutMs, stop),
                                     inputs[outputs.size()], span.peerId);
            if (!output)
                return output.error();
            outputs.push_back(std::move(*output));
        }
        hop.inputs = std::move(inputs);
        inputs = std::move(outputs);
    }
    closer.armed = false;
    return hops;
}

Result<std::vector<RemoteSession::Hop>>
RemoteSession::connect(std::int64_t from, std::int64_t to, const std::vector<at::Tensor> &history,
                       const std::stop_token &stop)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(m_options.routeTimeoutMs);
    std::string lastFailure;
    std::set<std::string> pinged;
    for (;;) {
        // Each server is pinged once per connect: a silent one is not waited for again.
        std::vector<proto::ServerRecord> unmeasured;
        for (const proto::ServerRecord &server : m_client.servers())
            if (m_client.rttMs(server.peer_id()) < 0 && !m_client.isBanned(server.peer_id())
                && server.end() > from && server.start() < to
                && pinged.insert(server.peer_id()).second)
                unmeasured.push_back(server);
        if (!unmeasured.empty())
            m_client.measureRtts(unmeasured, kPingTimeoutMs);

        const std::vector<ServerCandidate> candidates =
            m_client.candidates(m_numBlocks, m_options.adapter);
        auto route = planRoute(candidates, from, to, RouteKind::Inference, m_options.maxLength);
        if (route) {
            auto hops = tryRoute(*route, history, stop);
            if (hops)
                return hops;
            if (auto giveUp = m_failovers.spend(hops.error()))
                return *giveUp;
            lastFailure = hops.error().message;
            continue;
        }
        if (Clock::now() >= deadline) {
            // The planner's error names the blocks that no live, unbanned server holds.
            Error error = makeError(
                ErrorCode::NotFound,
                route.error().message + " of model " + m_client.modelId()
                    + adapterText(m_options.adapter) + " (waited "
                    + std::to_string(m_options.routeTimeoutMs / 1000.0).substr(0, 4) + " s; "
                    + std::to_string(m_client.servers().size()) + " server(s) seen"
                    + (lastFailure.empty() ? "" : "; last failure: " + lastFailure)
                    + "). Start a server for them with `corolla serve --blocks auto`.");
            error.blocks = uncoveredBlocks(candidates, from, to);
            return error;
        }
        if (stop.stop_requested())
            return makeError(ErrorCode::Cancelled,
                             "stopped while waiting for servers of the missing blocks");
        m_client.refreshNow();
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        m_client.waitForServers([&](const auto &) { return false; },
                                int(std::clamp<std::int64_t>(left, 0, kMissingBlocksPollMs)));
    }
}

Result<at::Tensor> RemoteSession::step(const at::Tensor &hidden, const std::stop_token &stop)
{
    if (hidden.dim() != 3 || hidden.size(0) != 1)
        return makeError(ErrorCode::InvalidArgument,
                         "a remote session takes hidden states [1, T, hidden]");
    if (m_position + hidden.size(1) > m_options.maxLength)
        return makeError(ErrorCode::ResourceExhausted,
                         "the session holds " + std::to_string(m_options.maxLength) + " positions; "
                             + std::to_string(m_position + hidden.size(1)) + " were asked for");
    at::Tensor x = hidden.to(at::kFloat).contiguous();
    for (std::size_t i = 0; i < m_hops.size();) {
        Hop &hop = m_hops[i];
        auto output = runStep(hop, x, stop);
        if (output) {
            hop.inputs.push_back(x);
            x = std::move(*output);
            ++i;
            continue;
        }
        if (output.error().code == ErrorCode::InvalidArgument)
            return output.error(); // the step itself is wrong: another server would say so too
        if (auto giveUp = m_failovers.spend(output.error()))
            return *giveUp;
        auto replacement = connect(hop.span.start, hop.span.end, hop.inputs, stop);
        if (!replacement)
            return replacement.error();
        closeSession(
            m_hops[i]); // a server that was only slow frees its cache now, not at its timeout
        m_hops.erase(m_hops.begin() + std::ptrdiff_t(i));
        m_hops.insert(m_hops.begin() + std::ptrdiff_t(i),
                      std::make_move_iterator(replacement->begin()),
                      std::make_move_iterator(replacement->end()));
    }
    m_position += hidden.size(1);
    return x;
}

} // namespace corolla
