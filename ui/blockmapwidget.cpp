#include "ui/blockmapwidget.h"

#include <algorithm>
#include <cmath>

#include <QHelpEvent>
#include <QPainter>
#include <QToolTip>

#include "ui/blockmapmodel.h"

namespace corolla {

namespace {

constexpr int kGap = 3;
constexpr int kMaxTile = 40;
constexpr int kMinTile = 12;

QColor coverageColour(int servers, double throughput, double maxThroughput)
{
    if (servers == 0)
        return QColor(0xd9, 0x4a, 0x3d); // uncovered: red
    const double strength = std::clamp(throughput / maxThroughput, 0.0, 1.0);
    const QColor pale(0xc7, 0xe9, 0xc0), deep(0x23, 0x8b, 0x45);
    auto mix = [strength](int a, int b) { return int(std::lround(a + (b - a) * strength)); };
    return QColor(mix(pale.red(), deep.red()), mix(pale.green(), deep.green()),
                  mix(pale.blue(), deep.blue()));
}

} // namespace

BlockMapWidget::BlockMapWidget(BlockMapModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
{
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    auto repaint = [this] {
        updateGeometry();
        update();
    };
    connect(model, &QAbstractItemModel::dataChanged, this, repaint);
    connect(model, &QAbstractItemModel::modelReset, this, repaint);
}

BlockMapWidget::Grid BlockMapWidget::grid(int width) const
{
    const int blocks = std::max(1, m_model->rowCount());
    Grid result;
    // The largest tile that fits every block in the width, in as few rows as possible.
    result.tile = std::clamp((width + kGap) / blocks - kGap, kMinTile, kMaxTile);
    result.columns = std::max(1, (width + kGap) / (result.tile + kGap));
    return result;
}

QRect BlockMapWidget::tileRect(int block, const Grid &grid) const
{
    const int row = block / grid.columns, column = block % grid.columns;
    return QRect(column * (grid.tile + kGap), row * (grid.tile + kGap), grid.tile, grid.tile);
}

int BlockMapWidget::heightForWidth(int width) const
{
    const Grid g = grid(width);
    const int rows = (std::max(1, m_model->rowCount()) + g.columns - 1) / g.columns;
    return rows * (g.tile + kGap);
}

QSize BlockMapWidget::sizeHint() const
{
    return QSize(400, heightForWidth(400));
}

QSize BlockMapWidget::minimumSizeHint() const
{
    return QSize(kMinTile * 4, kMinTile);
}

int BlockMapWidget::blockAt(const QPoint &point) const
{
    const Grid g = grid(width());
    for (int block = 0; block < m_model->rowCount(); ++block) {
        if (tileRect(block, g).contains(point))
            return block;
    }
    return -1;
}

void BlockMapWidget::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const Grid g = grid(width());
    const double maxThroughput = m_model->maxThroughput();
    for (int block = 0; block < m_model->rowCount(); ++block) {
        const BlockInfo &info = m_model->block(block);
        const QRect rect = tileRect(block, g);
        painter.setPen(info.servedHere ? QPen(palette().color(QPalette::Highlight), 3)
                                       : QPen(Qt::NoPen));
        painter.setBrush(coverageColour(info.servers, info.throughput, maxThroughput));
        painter.drawRoundedRect(rect.adjusted(1, 1, -1, -1), 4, 4);
        if (g.tile >= 22) {
            painter.setPen(info.servers == 0 || info.throughput > maxThroughput / 2 ? Qt::white
                                                                                    : Qt::black);
            painter.drawText(rect, Qt::AlignCenter, QString::number(block));
        }
    }
}

bool BlockMapWidget::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        auto *help = static_cast<QHelpEvent *>(event);
        const int block = blockAt(help->pos());
        if (block >= 0)
            QToolTip::showText(help->globalPos(), m_model->describe(block), this,
                               tileRect(block, grid(width())));
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::event(event);
}

} // namespace corolla
