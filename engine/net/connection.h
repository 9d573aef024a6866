#pragma once
// One TLS connection between two peers carrying framed protobuf Envelopes. Outgoing
// connections check that the server's certificate key hashes to the PeerId they expected
// and close otherwise; nothing is sent before that check. A frame that is too large or does
// not parse closes the connection (and only it).
// Thread: the thread that owns it (the engine thread); signals are emitted there.

#include <cstdint>
#include <string>

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QSslConfiguration>
#include <QTimer>

#include "net/corolla.pb.h"
#include "net/framing.h"

class QSslSocket;

namespace corolla {

class Connection : public QObject {
    Q_OBJECT
public:
    static constexpr int kHandshakeTimeoutMs = 10000;

    // The server end of an accepted TCP connection.
    static Connection *accept(qintptr socketDescriptor, const QSslConfiguration &configuration,
                              std::uint32_t maxFrameBytes, QObject *parent);
    // Connects to host:port. An empty expectedPeerId accepts any key (the caller then ties
    // the key to a signed record itself).
    static Connection *connectTo(const QString &host, quint16 port,
                                 const std::string &expectedPeerId, std::uint32_t maxFrameBytes,
                                 QObject *parent);

    ~Connection() override;

    bool isReady() const { return m_ready; }
    // Whether the handshake and the peer check ever succeeded (a refused connection, another
    // peer at that address or a handshake that timed out never were).
    bool wasEverReady() const { return m_everReady; }
    bool isClosed() const { return m_closed; }
    // The peer's Ed25519 key and PeerId (outgoing connections; empty before ready()).
    const QByteArray &peerPublicKey() const { return m_peerPublicKey; }
    const std::string &peerId() const { return m_peerId; }
    QString peerAddress() const;

    // Queues the envelope; sent once the connection is ready. Ignored after close.
    void send(const proto::Envelope &envelope);
    // Closes the connection; closed() follows once.
    void close(const QString &reason);

    std::int64_t bytesReceived() const { return m_bytesReceived; }
    std::int64_t bytesSent() const { return m_bytesSent; }

Q_SIGNALS:
    void ready();
    void envelopeReceived(const corolla::proto::Envelope &envelope);
    void closed(const QString &reason);

private:
    Connection(QSslSocket *socket, std::uint32_t maxFrameBytes, QObject *parent);
    void onEncrypted();
    void onReadyRead();
    void writeFrame(const QByteArray &payload);

    QSslSocket *m_socket;
    FrameReader m_reader;
    QTimer m_handshakeTimer;
    QList<QByteArray> m_pending; // payloads waiting for ready()
    std::string m_expectedPeerId;
    bool m_outgoing = false;
    QByteArray m_peerPublicKey;
    std::string m_peerId;
    QString m_description;
    bool m_ready = false;
    bool m_everReady = false;
    bool m_closed = false;
    std::int64_t m_bytesReceived = 0;
    std::int64_t m_bytesSent = 0;
};

} // namespace corolla
