#pragma once
// Swarm: the servers of the model in a sortable table, a chart of the swarm's throughput
// and of this computer's served tokens/s over time, and whether every block is covered.
// Thread: the GUI thread.

#include <QDateTime>
#include <QWidget>

#include "facade/enginetypes.h"

class QLabel;
class QLineSeries;
class QSortFilterProxyModel;
class QTableView;
class QValueAxis;

namespace corolla {

class PeersModel;

class SwarmPage : public QWidget {
    Q_OBJECT
public:
    explicit SwarmPage(QWidget *parent = nullptr);

    void setStatus(const EngineStatus &status);
    PeersModel *peersModel() const { return m_peers; }
    QTableView *peersView() const { return m_table; }
    QString healthText() const;
    int chartPoints() const;

private:
    void addChartPoint(const EngineStatus &status);

    PeersModel *m_peers = nullptr;
    QSortFilterProxyModel *m_sorted = nullptr;
    QTableView *m_table = nullptr;
    QLabel *m_health = nullptr;
    QLineSeries *m_swarmSeries = nullptr;
    QLineSeries *m_ownSeries = nullptr;
    QValueAxis *m_timeAxis = nullptr;
    QValueAxis *m_rateAxis = nullptr;
    QDateTime m_started = QDateTime::currentDateTimeUtc();
    EngineStatus m_status;
};

} // namespace corolla
