#include "server/blockserver.h"

#include <deque>
#include <optional>

#include <QPointer>
#include <c10/util/Exception.h>

#include "core/clock.h"
#include "model/blockspan.h"
#include "model/weightmemory.h"
#include "net/listener.h"
#include "server/computereply.h"
#include "server/requestcheck.h"
#include "wire/wiretensor.h"
#include "net/queuedcall.h"

namespace corolla {

// An inference session: the KV cache of blocks [from, to) for `batch` sequences of up to
// maxLength tokens. Steps run one at a time, in the order they arrived.
struct ServerSession {
    std::int64_t from = 0, to = 0, batch = 0, maxLength = 0;
    std::shared_ptr<const LoraAdapter> adapter; // null: none
    proto::Codec replyCodec = proto::CODEC_UNSPECIFIED;
    std::optional<KvCache> cache; // made and used on the compute thread only
    std::deque<proto::StepRequest> pending;
    bool busy = false;
    qint64 lastActiveMs = 0;
};

namespace {

std::int64_t sum(const std::vector<std::int64_t> &values)
{
    std::int64_t total = 0;
    for (std::int64_t value : values)
        total += value;
    return total;
}

} // namespace

BlockServer::BlockServer(const PeerIdentity &identity, std::string modelId, ServerLimits limits,
                         QObject *parent)
    : QObject(parent)
    , m_identity(identity)
    , m_modelId(std::move(modelId))
    , m_limits(limits)
    , m_compute(std::make_unique<ComputeQueue>())
{
    m_listener = new Listener(m_identity.serverConfiguration(), m_limits.maxFrameBytes, this);
    connect(m_listener, &Listener::accepted, this, &BlockServer::onAccepted);
    connect(&m_expiryTimer, &QTimer::timeout, this, &BlockServer::expireIdleSessions);
    m_expiryTimer.start(std::max(100, std::min(1000, m_limits.sessionIdleTimeoutMs / 4)));
}

BlockServer::~BlockServer()
{
    // Finish the running job first: its reply is queued to us and dropped with us.
    m_compute.reset();
    for (auto &[connection, inFlight] : m_connections) {
        connection->disconnect(this);
        delete connection;
    }
}

bool BlockServer::listen(const QString &address, quint16 port)
{
    return m_listener->listen(QHostAddress(address), port);
}

quint16 BlockServer::port() const
{
    return m_listener->serverPort();
}

QString BlockServer::listenError() const
{
    return m_listener->errorString();
}

void BlockServer::setSpan(std::shared_ptr<const BlockSpan> span, Adapters adapters)
{
    m_sessions.clear(); // their caches belong to the old blocks; clients re-plan on NO_SESSION
    m_reservedTokens = 0;
    m_span = std::move(span);
    m_adapters = std::move(adapters);
}

Result<std::shared_ptr<const LoraAdapter>> BlockServer::adapterNamed(const std::string &name) const
{
    if (name.empty())
        return std::shared_ptr<const LoraAdapter>();
    const auto found = m_adapters.find(name);
    if (found == m_adapters.end())
        return makeError(ErrorCode::NotFound,
                         "this server does not serve the adapter '" + name.substr(0, 200) + "'");
    return found->second;
}

std::int64_t BlockServer::cacheTokensLeft() const
{
    return std::max<std::int64_t>(0, m_limits.cacheBudgetTokens - m_reservedTokens);
}

const ServerStats &BlockServer::stats() const
{
    m_stats.sessionsOpen = std::int64_t(m_sessions.size());
    m_stats.connections = std::int64_t(m_connections.size());
    // Closed connections' bytes, and what the open ones moved so far.
    m_stats.bytesIn = m_closedBytesIn;
    m_stats.bytesOut = m_closedBytesOut;
    for (const auto &[connection, inFlight] : m_connections) {
        m_stats.bytesIn += connection->bytesReceived();
        m_stats.bytesOut += connection->bytesSent();
    }
    return m_stats;
}

void BlockServer::onAccepted(Connection *connection)
{
    connection->setParent(this);
    m_connections[connection] = std::make_shared<int>(0);
    connect(
        connection, &Connection::envelopeReceived, this,
        [this, connection](const proto::Envelope &envelope) { onEnvelope(connection, envelope); });
    connect(connection, &Connection::closed, this, [this, connection] {
        m_closedBytesIn += connection->bytesReceived();
        m_closedBytesOut += connection->bytesSent();
        dropSessions(connection);
        m_connections.erase(connection);
        connection->deleteLater();
    });
}

void BlockServer::reply(Connection *connection, std::uint64_t callId,
                        const proto::Response &response)
{
    proto::Envelope envelope;
    envelope.set_call_id(callId);
    *envelope.mutable_response() = response;
    connection->send(envelope);
    Q_EMIT activity();
}

void BlockServer::replyError(Connection *connection, std::uint64_t callId, proto::ErrorKind kind,
                             const std::string &message)
{
    ++m_stats.errors;
    proto::Response response;
    response.mutable_error()->set_kind(kind);
    response.mutable_error()->set_message(message);
    reply(connection, callId, response);
}

void BlockServer::answer(Connection *connection, std::uint64_t callId,
                         const Result<proto::Response> &response)
{
    if (response)
        reply(connection, callId, *response);
    else
        replyError(connection, callId, toErrorKind(response.error().code),
                   response.error().message);
}

std::function<void(Result<proto::Response>)> BlockServer::admit(Connection *connection,
                                                                std::uint64_t callId)
{
    const std::shared_ptr<int> inFlight = m_connections.at(connection);
    if (*inFlight >= m_limits.maxInFlightPerConnection) {
        replyError(connection, callId, proto::ERROR_BUSY,
                   "more than " + std::to_string(m_limits.maxInFlightPerConnection)
                       + " calls in flight on this connection");
        return {};
    }
    ++*inFlight;
    return [inFlight, reply = replier(connection, callId)](Result<proto::Response> response) {
        --*inFlight;
        reply(std::move(response));
    };
}

std::function<void(Result<proto::Response>)> BlockServer::replier(Connection *connection,
                                                                  std::uint64_t callId)
{
    return [this, target = QPointer<Connection>(connection),
            callId](Result<proto::Response> response) {
        if (target && !target->isClosed())
            answer(target, callId, response);
    };
}

void BlockServer::onEnvelope(Connection *connection, const proto::Envelope &envelope)
{
    const std::uint64_t callId = envelope.call_id();
    if (!envelope.has_request()) {
        replyError(connection, callId, proto::ERROR_INVALID_REQUEST, "expected a request");
        return;
    }
    ++m_stats.requests;
    const proto::Request &request = envelope.request();
    if (!m_span && request.body_case() != proto::Request::kInfo
        && request.body_case() != proto::Request::kPing) {
        replyError(connection, callId, proto::ERROR_BUSY,
                   "this server is still loading its blocks");
        return;
    }
    switch (request.body_case()) {
    case proto::Request::kInfo: handleInfo(connection, callId); break;
    case proto::Request::kPing: {
        proto::Response response;
        response.mutable_ping()->set_client_time_us(request.ping().client_time_us());
        reply(connection, callId, response);
        break;
    }
    case proto::Request::kForward:
    case proto::Request::kBackward: handleSpanCall(connection, callId, request); break;
    case proto::Request::kOpenSession:
        handleOpen(connection, callId, request.open_session());
        break;
    case proto::Request::kStep: handleStep(connection, callId, request.step()); break;
    case proto::Request::kCloseSession: handleClose(connection, callId); break;
    default: replyError(connection, callId, proto::ERROR_INVALID_REQUEST, "unknown request"); break;
    }
}

void BlockServer::handleInfo(Connection *connection, std::uint64_t callId)
{
    proto::Response response;
    proto::InfoReply &info = *response.mutable_info();
    info.set_model_id(m_modelId);
    if (m_span) {
        info.set_num_blocks(m_span->config().numLayers);
        info.set_start(m_span->begin());
        info.set_end(m_span->end());
        info.set_dtype(computeDtypeName(m_span->dtype()));
        info.set_quantization(std::string(quantizationName(m_span->quantization())));
        info.set_hidden_size(m_span->config().hiddenSize);
    }
    info.set_max_batch(m_limits.maxBatch);
    info.set_max_tokens_per_request(m_limits.maxTokensPerRequest);
    info.set_max_session_length(m_limits.maxSessionLength);
    info.set_cache_tokens_left(cacheTokensLeft());
    info.set_version(COROLLA_VERSION);
    info.set_signed_record(m_signedRecord.constData(), std::size_t(m_signedRecord.size()));
    reply(connection, callId, response);
}

void BlockServer::handleSpanCall(Connection *connection, std::uint64_t callId,
                                 const proto::Request &request)
{
    auto call = checkedSpanCall(request, m_span->begin(), m_span->end(),
                                m_span->config().hiddenSize, m_limits);
    if (!call) {
        answer(connection, callId, call.error());
        return;
    }
    auto adapter = adapterNamed(call->adapter);
    if (!adapter) {
        answer(connection, callId, adapter.error());
        return;
    }
    auto done = admit(connection, callId);
    if (!done)
        return;
    m_stats.tokensServed += sum(call->lengths);
    const bool backward = call->isBackward();
    computeThenReply(
        *m_compute, backward ? ComputeQueue::Priority::Backward : ComputeQueue::Priority::Forward,
        this,
        [span = m_span, adapter = *adapter, call = std::move(*call)]() -> Result<proto::Response> {
            if (!call.isBackward())
                return tensorResponse(
                    span->forward(call.hidden, call.lengths, call.start, call.end,
                                  {.prompts = call.prompts, .adapter = adapter.get()}),
                    call.replyCodec, [](proto::Response &response) {
                        return response.mutable_forward()->mutable_hidden();
                    });
            auto gradients =
                span->backward(call.hidden, call.gradOutput, call.lengths, call.start, call.end,
                               {.prompts = call.prompts, .adapter = adapter.get()});
            if (!gradients)
                return gradients.error();
            auto response =
                tensorResponse(gradients->input, call.replyCodec, [](proto::Response &reply) {
                    return reply.mutable_backward()->mutable_grad_input();
                });
            if (!response || !gradients->prompts.defined())
                return response;
            // The prompts' gradients go back as exactly as the prompts came.
            auto promptGradients = tensorToWire(gradients->prompts, proto::CODEC_FP32);
            if (!promptGradients)
                return promptGradients.error();
            *response->mutable_backward()->mutable_grad_prompts() = std::move(*promptGradients);
            return response;
        },
        std::move(done));
}

void BlockServer::handleOpen(Connection *connection, std::uint64_t callId,
                             const proto::OpenSessionRequest &request)
{
    const SessionKey key{connection, callId};
    if (m_sessions.count(key)) {
        replyError(connection, callId, proto::ERROR_INVALID_REQUEST,
                   "a session is already open on this call");
        return;
    }
    if (auto checked = checkOpenSession(request, m_span->begin(), m_span->end(), m_limits);
        !checked) {
        answer(connection, callId, checked.error());
        return;
    }
    auto adapter = adapterNamed(request.adapter());
    if (!adapter) {
        answer(connection, callId, adapter.error());
        return;
    }
    const std::int64_t tokens = request.batch() * request.max_length();
    std::int64_t ofConnection = 0;
    for (const auto &[sessionKey, session] : m_sessions)
        ofConnection += sessionKey.first == connection ? 1 : 0;
    if (std::int64_t(m_sessions.size()) >= m_limits.maxSessions
        || ofConnection >= m_limits.maxSessionsPerConnection) {
        replyError(connection, callId, proto::ERROR_BUSY, "too many open sessions on this server");
        return;
    }
    if (tokens > cacheTokensLeft()) {
        replyError(connection, callId, proto::ERROR_BUSY,
                   "the session needs " + std::to_string(tokens) + " cache tokens; "
                       + std::to_string(cacheTokensLeft()) + " are left");
        return;
    }
    auto session = std::make_shared<ServerSession>();
    session->from = request.start();
    session->to = request.end();
    session->batch = request.batch();
    session->maxLength = request.max_length();
    session->adapter = std::move(*adapter);
    session->replyCodec = request.reply_codec();
    session->lastActiveMs = steadyTimeMs();
    m_sessions[key] = session;
    if (!m_warmScope)
        m_warmScope = std::make_unique<KeepWeightsWarm>();
    m_reservedTokens += tokens;
    ++m_stats.sessionsOpened;
    proto::Response response;
    response.mutable_open_session()->set_cache_tokens_left(cacheTokensLeft());
    reply(connection, callId, response);
}

void BlockServer::handleStep(Connection *connection, std::uint64_t callId,
                             const proto::StepRequest &request)
{
    auto it = m_sessions.find({connection, callId});
    if (it == m_sessions.end()) {
        replyError(connection, callId, proto::ERROR_NO_SESSION,
                   "no open session on this call (it expired, was closed, or the server moved)");
        return;
    }
    if (std::int64_t(it->second->pending.size()) >= m_limits.maxPendingStepsPerSession) {
        replyError(connection, callId, proto::ERROR_BUSY, "too many steps waiting in this session");
        return;
    }
    it->second->lastActiveMs = steadyTimeMs();
    it->second->pending.push_back(request);
    if (!it->second->busy)
        runNextStep(it->first);
}

void BlockServer::runNextStep(const SessionKey &key)
{
    auto it = m_sessions.find(key);
    if (it == m_sessions.end() || it->second->busy || it->second->pending.empty())
        return;
    const std::shared_ptr<ServerSession> session = it->second;
    Connection *connection = key.first;
    const std::uint64_t callId = key.second;
    const proto::StepRequest request = std::move(session->pending.front());
    session->pending.pop_front();

    auto hidden = checkedHidden(request.hidden(), m_span->config().hiddenSize, m_limits);
    if (hidden && hidden->size(0) != session->batch)
        hidden =
            makeError(ErrorCode::InvalidArgument, "the step's batch differs from the session's");
    auto lengths = hidden.andThen([&](const at::Tensor &x) {
        return checkedLengths(request.lengths(), x.size(0), x.size(1));
    });
    auto prompts = lengths.andThen([&](const std::vector<std::int64_t> &) {
        return checkedPrompts(request.has_prompts(), request.prompts(), session->to - session->from,
                              session->batch, m_span->config().hiddenSize, m_limits);
    });
    if (!prompts) {
        // The session stays usable: a bad step changes nothing in its cache.
        answer(connection, callId, prompts.error());
        runNextStep(key);
        return;
    }
    m_stats.tokensServed += sum(*lengths);
    session->busy = true;
    const proto::Codec codec = replyCodec(session->replyCodec, request.hidden().codec());
    QPointer<Connection> target(connection);
    computeThenReply(
        *m_compute, ComputeQueue::Priority::Inference, this,
        [span = m_span, session, x = *hidden, lengths = *lengths, prompts = *prompts, codec,
         stepId = request.step_id()]() -> Result<proto::Response> {
            if (!session->cache)
                session->cache.emplace(span->makeCache(session->batch, session->maxLength,
                                                       session->from, session->to));
            auto response =
                tensorResponse(span->step(x, *session->cache, lengths, session->from, session->to,
                                          {.prompts = prompts, .adapter = session->adapter.get()}),
                               codec, [](proto::Response &reply) {
                                   return reply.mutable_step()->mutable_hidden();
                               });
            if (!response)
                return response;
            proto::StepReply &step = *response->mutable_step();
            step.set_step_id(stepId);
            const auto &cached = session->cache->lengths();
            step.set_position(cached.empty() ? 0 : *std::max_element(cached.begin(), cached.end()));
            return response;
        },
        [this, target, key, session, callId](Result<proto::Response> response) {
            session->busy = false;
            session->lastActiveMs = steadyTimeMs();
            if (target && !target->isClosed())
                answer(target, callId, response);
            runNextStep(key);
        });
}

void BlockServer::handleClose(Connection *connection, std::uint64_t callId)
{
    auto it = m_sessions.find({connection, callId});
    if (it == m_sessions.end()) {
        replyError(connection, callId, proto::ERROR_NO_SESSION, "no open session on this call");
        return;
    }
    eraseSession(it); // a running step keeps its own reference until it finishes
    proto::Response response;
    response.mutable_close_session();
    reply(connection, callId, response);
}

void BlockServer::dropSessions(Connection *connection)
{
    for (auto it = m_sessions.begin(); it != m_sessions.end();) {
        if (it->first.first == connection)
            it = eraseSession(it);
        else
            ++it;
    }
}

BlockServer::SessionMap::iterator BlockServer::eraseSession(SessionMap::iterator session)
{
    m_reservedTokens -= session->second->batch * session->second->maxLength;
    auto next = m_sessions.erase(session);
    if (m_sessions.empty())
        m_warmScope.reset();
    return next;
}

void BlockServer::expireIdleSessions()
{
    const qint64 now = steadyTimeMs();
    for (auto it = m_sessions.begin(); it != m_sessions.end();) {
        const ServerSession &session = *it->second;
        if (!session.busy && session.pending.empty()
            && now - session.lastActiveMs > m_limits.sessionIdleTimeoutMs)
            it = eraseSession(it);
        else
            ++it;
    }
}

} // namespace corolla
