#include "ui/swarmpage.h"

#include <algorithm>

#include <QChart>
#include <QChartView>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>
#include <QVBoxLayout>

#include "ui/peersmodel.h"

namespace corolla {

namespace {

constexpr double kChartWindowSeconds = 600; // ten minutes of history
constexpr int kMaxChartPoints = 1200;

} // namespace

SwarmPage::SwarmPage(QWidget *parent)
    : QWidget(parent)
    , m_peers(new PeersModel(this))
{
    m_sorted = new QSortFilterProxyModel(this);
    m_sorted->setSourceModel(m_peers);
    m_sorted->setSortRole(Qt::UserRole);
    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("peersTable"));
    m_table->setModel(m_sorted);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(PeersModel::Blocks, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->hide();

    m_health = new QLabel;
    m_health->setWordWrap(true);

    m_swarmSeries = new QLineSeries;
    m_swarmSeries->setName(tr("Swarm throughput (tokens/s)"));
    m_ownSeries = new QLineSeries;
    m_ownSeries->setName(tr("Served by this computer (tokens/s)"));
    auto *chart = new QChart;
    chart->addSeries(m_swarmSeries);
    chart->addSeries(m_ownSeries);
    m_timeAxis = new QValueAxis;
    m_timeAxis->setTitleText(tr("Minutes"));
    m_timeAxis->setLabelFormat(QStringLiteral("%.1f"));
    m_rateAxis = new QValueAxis;
    m_rateAxis->setTitleText(tr("Tokens/s"));
    m_rateAxis->setLabelFormat(QStringLiteral("%.0f"));
    chart->addAxis(m_timeAxis, Qt::AlignBottom);
    chart->addAxis(m_rateAxis, Qt::AlignLeft);
    for (QLineSeries *series : {m_swarmSeries, m_ownSeries}) {
        series->attachAxis(m_timeAxis);
        series->attachAxis(m_rateAxis);
    }
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->setMargins(QMargins(4, 4, 4, 4));
    auto *chartView = new QChartView(chart);
    chartView->setRenderHint(QPainter::Antialiasing);
    chartView->setMinimumHeight(220);

    auto *splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(m_table);
    splitter->addWidget(chartView);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_health);
    layout->addWidget(splitter, 1);
}

QString SwarmPage::healthText() const
{
    const EngineStatus &status = m_status;
    if (status.numBlocks == 0)
        return status.swarmProblem.isEmpty() ? tr("Not connected to a swarm yet.")
                                             : tr("Not connected: %1").arg(status.swarmProblem);
    const QString model = status.demoSwarm ? tr("Demo model (local demo swarm)") : status.modelName;
    QString text;
    if (status.missingBlocks.isEmpty()) {
        text = tr("%1: every one of its %2 blocks is served by %n server(s); the swarm can serve "
                  "about %3 tokens/s.",
                  nullptr, int(status.peers.size()))
                   .arg(model)
                   .arg(status.numBlocks)
                   .arg(status.swarmThroughput, 0, 'f', 1);
    } else {
        QStringList missing;
        for (qint64 block : status.missingBlocks)
            missing.push_back(QString::number(block));
        text =
            tr("%1: blocks %2 have no server, so the model cannot run until someone serves them.")
                .arg(model, missing.join(QStringLiteral(", ")));
    }
    if (!status.swarmProblem.isEmpty())
        text += QLatin1Char(' ') + tr("Problem: %1").arg(status.swarmProblem);
    return text;
}

int SwarmPage::chartPoints() const
{
    return int(m_swarmSeries->count());
}

void SwarmPage::addChartPoint(const EngineStatus &status)
{
    const double minutes = double(m_started.msecsTo(QDateTime::currentDateTimeUtc())) / 60000.0;
    m_swarmSeries->append(minutes, status.swarmThroughput);
    m_ownSeries->append(minutes, status.contribution.tokensPerSecond);
    for (QLineSeries *series : {m_swarmSeries, m_ownSeries}) {
        while (series->count() > kMaxChartPoints
               || (series->count() > 0 && series->at(0).x() < minutes - kChartWindowSeconds / 60.0))
            series->remove(0);
    }
    double top = 1.0;
    for (QLineSeries *series : {m_swarmSeries, m_ownSeries}) {
        for (const QPointF &point : series->points())
            top = std::max(top, point.y());
    }
    m_timeAxis->setRange(std::max(0.0, minutes - kChartWindowSeconds / 60.0),
                         std::max(minutes, 1.0));
    m_rateAxis->setRange(0, top * 1.15);
}

void SwarmPage::setStatus(const EngineStatus &status)
{
    m_status = status;
    m_peers->setPeers(status.peers);
    m_health->setText(healthText());
    addChartPoint(status);
}

} // namespace corolla
