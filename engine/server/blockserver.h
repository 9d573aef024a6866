#pragma once
// The block server: answers Info, Ping, Forward, Backward and inference sessions for the
// blocks it holds. Every request is checked before any work; compute runs on a
// ComputeQueue; a session's KV cache stays here between its steps, within a budget in
// tokens; idle sessions expire and a client's sessions go with its connection.
// Thread: the engine thread (compute on the queue's thread).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include <QByteArray>
#include <QObject>
#include <QTimer>

#include "core/result.h"
#include "net/connection.h"
#include "net/identity.h"
#include "server/computequeue.h"

namespace corolla {

class BlockSpan;
class KeepWeightsWarm;
class LoraAdapter;
class Listener;
struct ServerSession;

struct ServerLimits {
    std::int64_t maxBatch = 8;
    std::int64_t maxTokensPerRequest = 8192; // batch x positions of one request
    std::int64_t maxSessionLength = 8192;    // tokens per sequence of one session
    std::int64_t cacheBudgetTokens = 16384;  // sum over sessions of batch x max_length
    std::int64_t maxSessions = 64;
    std::int64_t maxSessionsPerConnection = 16;
    int maxInFlightPerConnection = 32;   // forward/backward calls being computed
    int maxPendingStepsPerSession = 256; // a client catching up sends many at once
    int sessionIdleTimeoutMs = 5 * 60 * 1000;
    std::uint32_t maxFrameBytes = kDefaultMaxFrameBytes;
};

struct ServerStats {
    std::int64_t tokensServed = 0; // positions through the span, all calls
    std::int64_t requests = 0;
    std::int64_t errors = 0;
    std::int64_t sessionsOpened = 0;
    std::int64_t sessionsOpen = 0;
    std::int64_t connections = 0;
    std::int64_t bytesIn = 0;
    std::int64_t bytesOut = 0;
};

class BlockServer : public QObject {
    Q_OBJECT
public:
    BlockServer(const PeerIdentity &identity, std::string modelId, ServerLimits limits,
                QObject *parent = nullptr);
    ~BlockServer() override;

    // The LoRA adapters served with a span, by the names requests use.
    using Adapters = std::map<std::string, std::shared_ptr<const LoraAdapter>>;

    // Starts serving `span` with `adapters` loaded for it (replacing any span before it;
    // open sessions are closed).
    void setSpan(std::shared_ptr<const BlockSpan> span, Adapters adapters = {});
    std::shared_ptr<const BlockSpan> span() const { return m_span; }
    // The signed record handed out by Info.
    void setSignedRecord(const QByteArray &signedRecord) { m_signedRecord = signedRecord; }

    bool listen(const QString &address, quint16 port);
    quint16 port() const;
    QString listenError() const;

    std::int64_t cacheTokensLeft() const;
    const ServerStats &stats() const;
    ComputeQueue &computeQueue() { return *m_compute; }

Q_SIGNALS:
    // After each finished request, batched by the caller as it likes.
    void activity();

private:
    using SessionKey = std::pair<Connection *, std::uint64_t>;
    using SessionMap = std::map<SessionKey, std::shared_ptr<ServerSession>>;

    void onAccepted(Connection *connection);
    void onEnvelope(Connection *connection, const proto::Envelope &envelope);
    void reply(Connection *connection, std::uint64_t callId, const proto::Response &response);
    // A completion that replies on the call, unless the connection went away meanwhile.
    std::function<void(Result<proto::Response>)> replier(Connection *connection,
                                                         std::uint64_t callId);
    // Counts a forward/backward call against the connection's in-flight limit; false (after
    // a BUSY reply) when the limit is reached. The returned completion releases it.
    std::function<void(Result<proto::Response>)> admit(Connection *connection,
                                                       std::uint64_t callId);
    // The adapter a request names: null for none, NotFound for one this server lacks.
    Result<std::shared_ptr<const LoraAdapter>> adapterNamed(const std::string &name) const;
    void replyError(Connection *connection, std::uint64_t callId, proto::ErrorKind kind,
                    const std::string &message);
    // Replies with `response`, or with its error: the one way a Result becomes a reply.
    void answer(Connection *connection, std::uint64_t callId,
                const Result<proto::Response> &response);

    void handleInfo(Connection *connection, std::uint64_t callId);
    // Forward and Backward: stateless calls through a range of blocks, one tensor answered.
    void handleSpanCall(Connection *connection, std::uint64_t callId,
                        const proto::Request &request);
    void handleOpen(Connection *connection, std::uint64_t callId,
                    const proto::OpenSessionRequest &request);
    void handleStep(Connection *connection, std::uint64_t callId,
                    const proto::StepRequest &request);
    void handleClose(Connection *connection, std::uint64_t callId);
    void runNextStep(const SessionKey &key);
    void dropSessions(Connection *connection);
    // Frees a session's reservation and removes it; returns the next session.
    SessionMap::iterator eraseSession(SessionMap::iterator session);
    void expireIdleSessions();

    const PeerIdentity &m_identity;
    std::string m_modelId;
    ServerLimits m_limits;
    std::shared_ptr<const BlockSpan> m_span;
    Adapters m_adapters;
    QByteArray m_signedRecord;
    Listener *m_listener = nullptr;
    std::unique_ptr<ComputeQueue> m_compute;
    std::map<Connection *, std::shared_ptr<int>> m_connections; // -> calls in flight
    SessionMap m_sessions;
    // Keeps the weights' mappings warm while sessions are open (see weightmemory.h).
    std::unique_ptr<KeepWeightsWarm> m_warmScope;
    std::int64_t m_reservedTokens = 0;
    mutable ServerStats m_stats;
    std::int64_t m_closedBytesIn = 0;
    std::int64_t m_closedBytesOut = 0;
    QTimer m_expiryTimer;
};

} // namespace corolla
