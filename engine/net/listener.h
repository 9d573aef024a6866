#pragma once
// A TCP listener whose accepted connections speak TLS with this peer's identity.
// Thread: the engine thread.

#include <QSslConfiguration>
#include <QTcpServer>

#include "net/connection.h"

namespace corolla {

class Listener : public QTcpServer {
    Q_OBJECT
public:
    Listener(QSslConfiguration configuration, std::uint32_t maxFrameBytes,
             QObject *parent = nullptr);

Q_SIGNALS:
    // A connection whose TLS handshake has started; it belongs to the receiver.
    void accepted(corolla::Connection *connection);

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    QSslConfiguration m_configuration;
    std::uint32_t m_maxFrameBytes;
};

} // namespace corolla
