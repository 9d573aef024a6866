#include "net/connection.h"

#include <QSslSocket>

#include "net/identity.h"

namespace corolla {

Connection::Connection(QSslSocket *socket, std::uint32_t maxFrameBytes, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_reader(maxFrameBytes)
{
    m_socket->setParent(this);
    m_handshakeTimer.setSingleShot(true);
    connect(&m_handshakeTimer, &QTimer::timeout, this,
            [this] { close(QStringLiteral("the TLS handshake timed out")); });
    m_handshakeTimer.start(kHandshakeTimeoutMs);
    connect(m_socket, &QSslSocket::encrypted, this, &Connection::onEncrypted);
    connect(m_socket, &QSslSocket::readyRead, this, &Connection::onReadyRead);
    connect(m_socket, &QSslSocket::errorOccurred, this, [this] { close(m_socket->errorString()); });
    connect(m_socket, &QSslSocket::disconnected, this,
            [this] { close(QStringLiteral("the peer closed the connection")); });
}

Connection::~Connection()
{
    m_closed = true; // no signals from a half-destroyed object
    m_socket->disconnect(this);
    m_socket->abort();
}

Connection *Connection::accept(qintptr socketDescriptor, const QSslConfiguration &configuration,
                               std::uint32_t maxFrameBytes, QObject *parent)
{
    auto *socket = new QSslSocket;
    auto *connection = new Connection(socket, maxFrameBytes, parent);
    if (!socket->setSocketDescriptor(socketDescriptor)) {
        connection->m_closed = true;
        connection->deleteLater();
        return nullptr;
    }
    connection->m_description = connection->peerAddress();
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    socket->setSslConfiguration(configuration);
    socket->startServerEncryption();
    return connection;
}

Connection *Connection::connectTo(const QString &host, quint16 port,
                                  const std::string &expectedPeerId, std::uint32_t maxFrameBytes,
                                  QObject *parent)
{
    auto *socket = new QSslSocket;
    auto *connection = new Connection(socket, maxFrameBytes, parent);
    connection->m_outgoing = true;
    connection->m_expectedPeerId = expectedPeerId;
    connection->m_description = host + QLatin1Char(':') + QString::number(port);
    socket->setSslConfiguration(clientTlsConfiguration());
    connect(socket, &QSslSocket::connected, connection,
            [socket] { socket->setSocketOption(QAbstractSocket::LowDelayOption, 1); });
    socket->connectToHostEncrypted(host, port);
    return connection;
}

QString Connection::peerAddress() const
{
    return m_socket->peerAddress().toString() + QLatin1Char(':')
           + QString::number(m_socket->peerPort());
}

void Connection::onEncrypted()
{
    m_handshakeTimer.stop();
    if (m_outgoing) {
        m_peerPublicKey = ed25519KeyOfCertificate(m_socket->peerCertificate().toDer());
        if (m_peerPublicKey.isEmpty()) {
            close(QStringLiteral("%1 presented a certificate without an Ed25519 key")
                      .arg(m_description));
            return;
        }
        m_peerId = peerIdFromPublicKey(m_peerPublicKey);
        if (!m_expectedPeerId.empty() && m_peerId != m_expectedPeerId) {
            close(QStringLiteral("%1 is peer %2, not the expected %3")
                      .arg(m_description, QString::fromStdString(m_peerId),
                           QString::fromStdString(m_expectedPeerId)));
            return;
        }
    }
    m_ready = true;
    m_everReady = true;
    for (const QByteArray &payload : std::as_const(m_pending))
        writeFrame(payload);
    m_pending.clear();
    Q_EMIT ready();
    // Bytes that arrived together with the end of the handshake.
    if (m_socket->bytesAvailable() > 0)
        onReadyRead();
}

void Connection::send(const proto::Envelope &envelope)
{
    if (m_closed)
        return;
    QByteArray payload(int(envelope.ByteSizeLong()), Qt::Uninitialized);
    envelope.SerializeToArray(payload.data(), int(payload.size()));
    if (m_ready)
        writeFrame(payload);
    else
        m_pending.append(payload);
}

void Connection::writeFrame(const QByteArray &payload)
{
    const QByteArray frame = encodeFrame(payload);
    m_bytesSent += frame.size();
    m_socket->write(frame);
}

void Connection::onReadyRead()
{
    if (!m_ready || m_closed)
        return;
    const QByteArray bytes = m_socket->readAll();
    m_bytesReceived += bytes.size();
    m_reader.append(bytes);
    // Each envelope is handled before the next is parsed; a handler may close us.
    while (!m_closed) {
        auto payload = m_reader.next();
        if (!payload) {
            close(QString::fromStdString(payload.error().message));
            return;
        }
        if (!payload->has_value())
            return;
        proto::Envelope envelope;
        if (!envelope.ParseFromArray((*payload)->constData(), int((*payload)->size()))
            || envelope.body_case() == proto::Envelope::BODY_NOT_SET) {
            close(QStringLiteral("a frame from %1 is not a valid message").arg(m_description));
            return;
        }
        Q_EMIT envelopeReceived(envelope);
    }
}

void Connection::close(const QString &reason)
{
    if (m_closed)
        return;
    m_closed = true;
    m_ready = false;
    m_handshakeTimer.stop();
    m_pending.clear();
    // Flush what was queued (an error reply, say) before the socket goes.
    m_socket->disconnectFromHost();
    Q_EMIT closed(reason);
}

} // namespace corolla
