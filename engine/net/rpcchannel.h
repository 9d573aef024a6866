#pragma once
// The calling side of a connection: numbered calls, each answered by one response (unary
// calls) or by one response per request sent on it (streams: inference sessions). A lost
// connection or an expired deadline answers every waiting call with an error, once. An
// error reply from the server is a response (with its ErrorKind), not a transport error:
// streams stay open after one.
// Thread: the engine thread.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <QObject>
#include <QPointer>
#include <QTimer>

#include "core/result.h"
#include "net/connection.h"

namespace corolla {

class RpcChannel : public QObject {
    Q_OBJECT
public:
    using Handler = std::function<void(Result<proto::Response>)>;
    static constexpr int kDefaultTimeoutMs = 30000;

    // Connects to host:port expecting `peerId` (empty: any, see Connection::connectTo).
    RpcChannel(const QString &host, quint16 port, const std::string &peerId,
               QObject *parent = nullptr);
    ~RpcChannel() override;

    Connection *connection() const { return m_connection; }
    bool isClosed() const { return m_connection->isClosed(); }

    // A unary call: `handler` runs once with the response or an error.
    std::uint64_t call(const proto::Request &request, Handler handler,
                       int timeoutMs = kDefaultTimeoutMs);
    // A stream: `handler` runs for every response until finish() or an error.
    std::uint64_t openStream(const proto::Request &request, Handler handler,
                             int timeoutMs = kDefaultTimeoutMs);
    // Sends another request on an open stream; its response is due within timeoutMs.
    void sendOnStream(std::uint64_t callId, const proto::Request &request,
                      int timeoutMs = kDefaultTimeoutMs);
    // Stops delivering responses of the stream (after sending a last request, if any).
    void finish(std::uint64_t callId);

    // An error reply as an Error (BUSY: ResourceExhausted, NOT_SERVED/NO_SESSION: NotFound).
    static Error toError(const proto::ErrorReply &reply);

Q_SIGNALS:
    void closed(const QString &reason);

private:
    struct Call {
        Handler handler;
        bool stream = false;
        std::int64_t deadlineMs = 0; // 0: nothing outstanding
    };

    std::uint64_t start(const proto::Request &request, Handler handler, bool stream, int timeoutMs);
    void send(std::uint64_t callId, const proto::Request &request);
    void onEnvelope(const proto::Envelope &envelope);
    void onClosed(const QString &reason);
    void checkDeadlines();
    void armTimer();

    QPointer<Connection> m_connection;
    std::map<std::uint64_t, Call> m_calls;
    std::uint64_t m_nextCallId = 1;
    QString m_description;
    QTimer m_deadlineTimer;
};

} // namespace corolla
