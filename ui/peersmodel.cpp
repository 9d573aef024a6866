#include "ui/peersmodel.h"

#include <QBrush>
#include <QFont>

namespace corolla {

namespace {

int rowOf(const QList<PeerInfo> &peers, const QString &peerId)
{
    for (int row = 0; row < peers.size(); ++row) {
        if (peers[row].peerId == peerId)
            return row;
    }
    return -1;
}

} // namespace

void PeersModel::setPeers(const QList<PeerInfo> &peers)
{
    // Gone peers leave, in place, from the bottom up.
    for (int row = int(m_peers.size()) - 1; row >= 0; --row) {
        if (rowOf(peers, m_peers[row].peerId) < 0) {
            beginRemoveRows({}, row, row);
            m_peers.removeAt(row);
            endRemoveRows();
        }
    }
    for (const PeerInfo &peer : peers) {
        const int row = rowOf(m_peers, peer.peerId);
        if (row >= 0) {
            m_peers[row] = peer;
            Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
        } else {
            const int end = int(m_peers.size());
            beginInsertRows({}, end, end);
            m_peers.push_back(peer);
            endInsertRows();
        }
    }
}

int PeersModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_peers.size());
}

int PeersModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

// How a peer holds its blocks: packed (int8, NF4), or unpacked in its compute dtype.
QString PeersModel::weightsText(const PeerInfo &peer)
{
    if (peer.quantization == QLatin1String("int8"))
        return QStringLiteral("int8");
    if (peer.quantization == QLatin1String("nf4"))
        return QStringLiteral("NF4");
    if (peer.quantization == QLatin1String("none"))
        return peer.dtype;
    return peer.quantization; // a format of a newer version
}

QVariant PeersModel::display(const PeerInfo &peer, int column) const
{
    switch (column) {
    case Name:
        return peer.isThisMachine
                   ? tr("%1 (this computer)")
                         .arg(peer.publicName.isEmpty() ? tr("unnamed") : peer.publicName)
                   : peer.publicName;
    case PeerId: return shortPeerId(peer.peerId) + QStringLiteral("…");
    case Version: return peer.version;
    case Blocks: return tr("%1–%2").arg(peer.start).arg(peer.end - 1);
    case Weights: return weightsText(peer);
    case Adapters:
        return peer.adapters.isEmpty() ? tr("—") : peer.adapters.join(QStringLiteral(", "));
    case Throughput: return tr("%1 tok/s").arg(peer.throughput, 0, 'f', 1);
    case Ping: return peer.pingMs < 0 ? tr("—") : tr("%1 ms").arg(peer.pingMs, 0, 'f', 1);
    case CacheLeft: return tr("%1 tokens").arg(peer.cacheTokensLeft);
    case State:
        switch (peer.state) {
        case PeerState::Online: return tr("online");
        case PeerState::Joining: return tr("joining");
        case PeerState::Offline: return tr("offline");
        }
        return {};
    default: return {};
    }
}

QVariant PeersModel::raw(const PeerInfo &peer, int column) const
{
    switch (column) {
    case Name: return peer.publicName;
    case PeerId: return peer.peerId;
    case Version: return peer.version;
    case Blocks: return peer.start;
    case Weights: return peer.quantization;
    case Adapters: return peer.adapters.join(QStringLiteral(", "));
    case Throughput: return peer.throughput;
    case Ping: return peer.pingMs;
    case CacheLeft: return peer.cacheTokensLeft;
    case State: return int(peer.state);
    default: return {};
    }
}

QVariant PeersModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const PeerInfo &peer = m_peers.at(index.row());
    switch (role) {
    case Qt::DisplayRole: return display(peer, index.column());
    case Qt::UserRole: return raw(peer, index.column());
    case Qt::ToolTipRole: return index.column() == PeerId ? peer.peerId : QVariant();
    case Qt::FontRole:
        if (peer.isThisMachine) {
            QFont font;
            font.setBold(true);
            return font;
        }
        return {};
    case Qt::TextAlignmentRole:
        return index.column() >= Throughput && index.column() <= CacheLeft
                   ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                   : QVariant();
    default: return {};
    }
}

QVariant PeersModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name: return tr("Name");
    case PeerId: return tr("Peer ID");
    case Version: return tr("Version");
    case Blocks: return tr("Blocks");
    case Weights: return tr("Weights");
    case Adapters: return tr("Adapters");
    case Throughput: return tr("Throughput");
    case Ping: return tr("Ping");
    case CacheLeft: return tr("Cache left");
    case State: return tr("State");
    default: return {};
    }
}

} // namespace corolla
