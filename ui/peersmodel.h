#pragma once
// The servers of the swarm as a table: one row per peer, refreshed from each status
// snapshot. Qt::UserRole gives the raw value of a cell, for sorting numbers as numbers.
// Thread: the GUI thread.

#include <QAbstractTableModel>

#include "facade/enginetypes.h"

namespace corolla {

class PeersModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Name,
        PeerId,
        Version,
        Blocks,
        Weights,
        Adapters,
        Throughput,
        Ping,
        CacheLeft,
        State,
        ColumnCount
    };

    using QAbstractTableModel::QAbstractTableModel;

    // Rows of peers that stayed are updated in place; others come and go.
    void setPeers(const QList<PeerInfo> &peers);
    const PeerInfo &peer(int row) const { return m_peers.at(row); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    static QString weightsText(const PeerInfo &peer);
    QVariant display(const PeerInfo &peer, int column) const;
    QVariant raw(const PeerInfo &peer, int column) const;

    QList<PeerInfo> m_peers;
};

} // namespace corolla
