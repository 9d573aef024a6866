#pragma once
// One HTTP/1.1 request over a fresh TCP connection to 127.0.0.1, read to the end of its
// answer: for tests of HTTP servers that need the exact bytes (status lines, headers,
// chunked streams) rather than a client library's view of them.

#include <QByteArray>
#include <QtGlobal>

namespace corolla {

struct HttpAnswer {
    int status = 0;  // 0: no answer (no connection, or none before the timeout)
    QByteArray head; // status line and headers
    QByteArray body; // a chunked body without its framing
};

HttpAnswer httpExchange(quint16 port, const QByteArray &method, const QByteArray &path,
                        const QByteArray &body = {}, const QByteArray &headers = {});

// The body of a chunked answer (`data` from its status line on), without the chunk framing.
QByteArray dechunkedBody(const QByteArray &data);

} // namespace corolla
