#include "swarm/lanregistry.h"

#include <QNetworkDatagram>
#include <QVariant>

#include "core/clock.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr qint64 kMaxDatagramBytes = 60000;
constexpr qint64 kQueryAnswerIntervalMs = 250; // answer a burst of queries once

} // namespace

LanRegistry::LanRegistry(QObject *parent)
    : Registry(parent)
{
}

Result<std::unique_ptr<LanRegistry>> LanRegistry::start(const LanOptions &options, QObject *parent)
{
    auto registry = std::unique_ptr<LanRegistry>(new LanRegistry(parent));
    registry->m_options = options;
    QUdpSocket &socket = registry->m_socket;
    if (!socket.bind(QHostAddress::AnyIPv4, options.port,
                     QUdpSocket::ShareAddress | QUdpSocket::ReuseAddressHint))
        return makeError(ErrorCode::Io, "LAN discovery cannot bind UDP port "
                                            + std::to_string(options.port) + ": "
                                            + socket.errorString().toStdString());
    if (!socket.joinMulticastGroup(options.group))
        return makeError(ErrorCode::Io, "LAN discovery cannot join multicast group "
                                            + options.group.toString().toStdString() + ": "
                                            + socket.errorString().toStdString());
    socket.setSocketOption(QAbstractSocket::MulticastLoopbackOption, 1); // peers on this host
    socket.setSocketOption(QAbstractSocket::MulticastTtlOption, 1);      // this network only
    connect(&socket, &QUdpSocket::readyRead, registry.get(), &LanRegistry::onReadyRead);
    return registry;
}

void LanRegistry::announce(const QByteArray &signedRecord, const proto::ServerRecord &record)
{
    // One record per server and model: the newest replaces the one before.
    for (auto it = m_ownRecords.begin(); it != m_ownRecords.end();) {
        auto old = verifyRecord(*it, record.announced_at_ms());
        if (!old || old->model_id() == record.model_id())
            it = m_ownRecords.erase(it);
        else
            ++it;
    }
    m_ownRecords.append(signedRecord);
    proto::LanDatagram datagram;
    datagram.add_records()->ParseFromArray(signedRecord.constData(), int(signedRecord.size()));
    const std::string bytes = datagram.SerializeAsString();
    m_socket.writeDatagram(bytes.data(), qint64(bytes.size()), m_options.group, m_options.port);
}

void LanRegistry::lookup(const std::string &)
{
    proto::LanDatagram query;
    query.set_query(true);
    const std::string bytes = query.SerializeAsString();
    m_socket.writeDatagram(bytes.data(), qint64(bytes.size()), m_options.group, m_options.port);
}

void LanRegistry::sendOwnRecords()
{
    for (const QByteArray &signedRecord : std::as_const(m_ownRecords)) {
        proto::LanDatagram datagram;
        datagram.add_records()->ParseFromArray(signedRecord.constData(), int(signedRecord.size()));
        const std::string bytes = datagram.SerializeAsString();
        m_socket.writeDatagram(bytes.data(), qint64(bytes.size()), m_options.group, m_options.port);
    }
}

void LanRegistry::onReadyRead()
{
    QList<QByteArray> found;
    bool queried = false;
    while (m_socket.hasPendingDatagrams()) {
        const QNetworkDatagram datagram = m_socket.receiveDatagram(kMaxDatagramBytes);
        proto::LanDatagram message;
        if (!message.ParseFromArray(datagram.data().constData(), int(datagram.data().size())))
            continue; // not ours, or garbage: nothing to answer
        queried = queried || message.query();
        for (const proto::SignedRecord &record : message.records())
            found.append(QByteArray::fromStdString(record.SerializeAsString()));
    }
    const qint64 now = steadyTimeMs();
    if (queried && now - m_lastQueryAnswerMs >= kQueryAnswerIntervalMs) {
        m_lastQueryAnswerMs = now;
        sendOwnRecords();
    }
    if (!found.isEmpty())
        Q_EMIT recordsFound(found);
}

} // namespace corolla
