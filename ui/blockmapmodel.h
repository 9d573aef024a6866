#pragma once
// The blocks of the model as a table: one row per block with the servers that hold it,
// their summed throughput, and whether this computer serves it. The block map draws it.
// Thread: the GUI thread.

#include <QAbstractTableModel>

#include "facade/enginetypes.h"

namespace corolla {

class BlockMapModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Block, Servers, Throughput, ServedHere, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;

    void setBlocks(const QList<BlockInfo> &blocks);
    const BlockInfo &block(int row) const { return m_blocks.at(row); }
    // The largest throughput of any block, for scaling colours (at least 1).
    double maxThroughput() const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // "Block 3: 2 servers, 41.0 tokens/s, served here" for tooltips.
    QString describe(int row) const;

private:
    QList<BlockInfo> m_blocks;
};

} // namespace corolla
