#include "ui/blockmapmodel.h"

#include <algorithm>

namespace corolla {

void BlockMapModel::setBlocks(const QList<BlockInfo> &blocks)
{
    if (blocks.size() != m_blocks.size()) {
        beginResetModel();
        m_blocks = blocks;
        endResetModel();
        return;
    }
    m_blocks = blocks;
    if (!m_blocks.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(m_blocks.size()) - 1, ColumnCount - 1));
}

double BlockMapModel::maxThroughput() const
{
    double largest = 1.0;
    for (const BlockInfo &block : m_blocks)
        largest = std::max(largest, block.throughput);
    return largest;
}

int BlockMapModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_blocks.size());
}

int BlockMapModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString BlockMapModel::describe(int row) const
{
    const BlockInfo &block = m_blocks.at(row);
    QString text = block.servers == 0
                       ? tr("Block %1: no server holds it").arg(row)
                       : tr("Block %1: %n server(s), %2 tokens/s", nullptr, block.servers)
                             .arg(row)
                             .arg(block.throughput, 0, 'f', 1);
    if (block.servedHere)
        text += tr(", served by this computer");
    return text;
}

QVariant BlockMapModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const BlockInfo &block = m_blocks.at(index.row());
    if (role == Qt::ToolTipRole)
        return describe(index.row());
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Block: return index.row();
    case Servers: return block.servers;
    case Throughput: return block.throughput;
    case ServedHere: return block.servedHere;
    default: return {};
    }
}

QVariant BlockMapModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Block: return tr("Block");
    case Servers: return tr("Servers");
    case Throughput: return tr("Throughput");
    case ServedHere: return tr("This computer");
    default: return {};
    }
}

} // namespace corolla
