#include "net/listener.h"

namespace corolla {

Listener::Listener(QSslConfiguration configuration, std::uint32_t maxFrameBytes, QObject *parent)
    : QTcpServer(parent)
    , m_configuration(std::move(configuration))
    , m_maxFrameBytes(maxFrameBytes)
{
}

void Listener::incomingConnection(qintptr socketDescriptor)
{
    if (Connection *connection =
            Connection::accept(socketDescriptor, m_configuration, m_maxFrameBytes, nullptr))
        Q_EMIT accepted(connection);
}

} // namespace corolla
