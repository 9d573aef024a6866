#include "net/rpcchannel.h"

#include "core/clock.h"

namespace corolla {

RpcChannel::RpcChannel(const QString &host, quint16 port, const std::string &peerId,
                       QObject *parent)
    : QObject(parent)
    , m_connection(Connection::connectTo(host, port, peerId, kDefaultMaxFrameBytes, this))
    , m_description(host + QLatin1Char(':') + QString::number(port))
{
    connect(m_connection, &Connection::envelopeReceived, this, &RpcChannel::onEnvelope);
    connect(m_connection, &Connection::closed, this, &RpcChannel::onClosed);
    m_deadlineTimer.setSingleShot(true);
    connect(&m_deadlineTimer, &QTimer::timeout, this, &RpcChannel::checkDeadlines);
}

RpcChannel::~RpcChannel()
{
    // Handlers may reference their owners, which are going away with us: drop them unrun.
    m_calls.clear();
}

std::uint64_t RpcChannel::call(const proto::Request &request, Handler handler, int timeoutMs)
{
    return start(request, std::move(handler), false, timeoutMs);
}

std::uint64_t RpcChannel::openStream(const proto::Request &request, Handler handler, int timeoutMs)
{
    return start(request, std::move(handler), true, timeoutMs);
}

std::uint64_t RpcChannel::start(const proto::Request &request, Handler handler, bool stream,
                                int timeoutMs)
{
    const std::uint64_t callId = m_nextCallId++;
    if (m_connection->isClosed()) {
        // Answer asynchronously, like every other outcome, so callers see one behaviour.
        QTimer::singleShot(0, this, [handler = std::move(handler), description = m_description] {
            handler(makeError(ErrorCode::Io, "no connection to " + description.toStdString()));
        });
        return callId;
    }
    m_calls[callId] = Call{std::move(handler), stream, steadyTimeMs() + timeoutMs};
    send(callId, request);
    armTimer();
    return callId;
}

void RpcChannel::sendOnStream(std::uint64_t callId, const proto::Request &request, int timeoutMs)
{
    auto it = m_calls.find(callId);
    if (it == m_calls.end())
        return;
    it->second.deadlineMs = steadyTimeMs() + timeoutMs;
    send(callId, request);
    armTimer();
}

void RpcChannel::finish(std::uint64_t callId)
{
    m_calls.erase(callId);
}

void RpcChannel::send(std::uint64_t callId, const proto::Request &request)
{
    proto::Envelope envelope;
    envelope.set_call_id(callId);
    *envelope.mutable_request() = request;
    m_connection->send(envelope);
}

Error RpcChannel::toError(const proto::ErrorReply &reply)
{
    ErrorCode code = ErrorCode::Internal;
    switch (reply.kind()) {
    case proto::ERROR_INVALID_REQUEST: code = ErrorCode::InvalidArgument; break;
    case proto::ERROR_BUSY: code = ErrorCode::ResourceExhausted; break;
    case proto::ERROR_NOT_SERVED:
    case proto::ERROR_NO_SESSION: code = ErrorCode::NotFound; break;
    default: break;
    }
    return makeError(code, reply.message());
}

void RpcChannel::onEnvelope(const proto::Envelope &envelope)
{
    if (!envelope.has_response())
        return; // servers do not call clients
    auto it = m_calls.find(envelope.call_id());
    if (it == m_calls.end())
        return; // finished or timed out already
    Handler handler = it->second.handler;
    if (!it->second.stream)
        m_calls.erase(it);
    else
        it->second.deadlineMs = 0;
    handler(envelope.response());
}

void RpcChannel::onClosed(const QString &reason)
{
    auto calls = std::move(m_calls);
    m_calls.clear();
    m_deadlineTimer.stop();
    const Error error = makeError(ErrorCode::Io, "connection to " + m_description.toStdString()
                                                     + " lost: " + reason.toStdString());
    for (auto &[id, call] : calls)
        call.handler(error);
    Q_EMIT closed(reason);
}

void RpcChannel::armTimer()
{
    std::int64_t earliest = 0;
    for (const auto &[id, call] : m_calls)
        if (call.deadlineMs != 0 && (earliest == 0 || call.deadlineMs < earliest))
            earliest = call.deadlineMs;
    if (earliest == 0) {
        m_deadlineTimer.stop();
        return;
    }
    m_deadlineTimer.start(int(std::max<std::int64_t>(0, earliest - steadyTimeMs())));
}

void RpcChannel::checkDeadlines()
{
    const std::int64_t now = steadyTimeMs();
    std::vector<Handler> expired;
    for (auto it = m_calls.begin(); it != m_calls.end();) {
        if (it->second.deadlineMs != 0 && it->second.deadlineMs <= now) {
            expired.push_back(std::move(it->second.handler));
            it = m_calls.erase(it);
        } else {
            ++it;
        }
    }
    armTimer();
    for (Handler &handler : expired)
        handler(makeError(ErrorCode::Timeout,
                          "no answer from " + m_description.toStdString() + " in time"));
}

} // namespace corolla
