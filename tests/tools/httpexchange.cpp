#include "tools/httpexchange.h"

#include <QTcpSocket>

namespace corolla {

namespace {

constexpr int kTimeoutMs = 60000; // a loaded machine, not a speed limit

// Whether `data` holds a whole answer: its length's worth after the headers, or a chunked
// body's last chunk.
bool isComplete(const QByteArray &data)
{
    const qsizetype end = data.indexOf("\r\n\r\n");
    if (end < 0)
        return false;
    const QByteArray head = data.left(end).toLower();
    const qsizetype rest = data.size() - end - 4;
    const qsizetype length = head.indexOf("content-length: ");
    if (length >= 0)
        return rest >= head.mid(length + 16).split('\r').value(0).toLongLong();
    return head.contains("transfer-encoding: chunked") && data.endsWith("\r\n0\r\n\r\n");
}

} // namespace

QByteArray dechunkedBody(const QByteArray &data)
{
    QByteArray body;
    QByteArray rest = data.mid(data.indexOf("\r\n\r\n") + 4);
    while (!rest.isEmpty()) {
        const qsizetype line = rest.indexOf("\r\n");
        const int size = rest.left(line).toInt(nullptr, 16);
        if (line < 0 || size == 0)
            break;
        body += rest.mid(line + 2, size);
        rest = rest.mid(line + 2 + size + 2);
    }
    return body;
}

HttpAnswer httpExchange(quint16 port, const QByteArray &method, const QByteArray &path,
                        const QByteArray &body, const QByteArray &headers)
{
    QTcpSocket socket;
    socket.connectToHost(QStringLiteral("127.0.0.1"), port);
    if (!socket.waitForConnected(kTimeoutMs))
        return {};
    socket.write(method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 + headers + "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n"
                 + body);
    QByteArray data;
    while (!isComplete(data)) {
        if (socket.bytesAvailable() == 0 && !socket.waitForReadyRead(kTimeoutMs))
            break;
        data += socket.readAll();
    }
    const qsizetype end = data.indexOf("\r\n\r\n");
    if (end < 0)
        return {};
    HttpAnswer answer;
    answer.head = data.left(end);
    answer.status = answer.head.split(' ').value(1).toInt();
    answer.body = answer.head.toLower().contains("transfer-encoding: chunked") ? dechunkedBody(data)
                                                                               : data.mid(end + 4);
    return answer;
}

} // namespace corolla
