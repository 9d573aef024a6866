#include "swarm/staticregistry.h"

#include <QFile>
#include <QPointer>

#include "net/hostport.h"

namespace corolla {

namespace {

constexpr int kInfoTimeoutMs = 5000;

} // namespace

Result<std::vector<StaticPeer>> parseStaticPeers(const std::string &text, const std::string &source)
{
    std::vector<StaticPeer> peers;
    int lineNumber = 0;
    for (const QString &rawLine : QString::fromStdString(text).split(QLatin1Char('\n'))) {
        ++lineNumber;
        const QString line = rawLine.trimmed();
        if (line.isEmpty() || line.startsWith(QLatin1Char('#')))
            continue;
        const QStringList fields = line.split(QLatin1Char(' '), Qt::SkipEmptyParts);
        auto address = parseHostPort(fields.front().toStdString());
        if (!address || fields.size() > 2)
            return makeError(ErrorCode::Format,
                             source + ":" + std::to_string(lineNumber)
                                 + ": expected 'HOST:PORT [PEER_ID]'"
                                 + (address ? "" : ": " + address.error().message));
        peers.push_back({address->first, address->second,
                         fields.size() == 2 ? fields[1].toStdString() : std::string()});
    }
    return peers;
}

Result<std::vector<StaticPeer>> readStaticPeers(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        return makeError(ErrorCode::NotFound, path + ": cannot read the static peers file");
    return parseStaticPeers(file.readAll().toStdString(), path);
}

StaticRegistry::StaticRegistry(std::vector<StaticPeer> peers, QObject *parent)
    : Registry(parent)
    , m_peers(std::move(peers))
{
}

RpcChannel *StaticRegistry::channel(std::size_t index)
{
    auto it = m_channels.find(index);
    if (it != m_channels.end() && !it->second->isClosed())
        return it->second;
    if (it != m_channels.end())
        it->second->deleteLater();
    const StaticPeer &peer = m_peers[index];
    auto *channel = new RpcChannel(QString::fromStdString(peer.host), peer.port, peer.peerId, this);
    m_channels[index] = channel;
    return channel;
}

void StaticRegistry::lookup(const std::string &modelId)
{
    for (std::size_t i = 0; i < m_peers.size(); ++i) {
        proto::Request request;
        request.mutable_info();
        QPointer<StaticRegistry> self(this);
        channel(i)->call(
            request,
            [self, modelId](Result<proto::Response> response) {
                if (!self || !response || !response->has_info()
                    || response->info().signed_record().empty()
                    || response->info().model_id() != modelId)
                    return;
                Q_EMIT self->recordsFound(
                    {QByteArray::fromStdString(response->info().signed_record())});
            },
            kInfoTimeoutMs);
    }
}

} // namespace corolla
