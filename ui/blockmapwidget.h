#pragma once
// Draws every block of the model as a tile coloured by how well the swarm covers it (red:
// nobody; pale to deep green: more throughput), with this computer's blocks outlined and a
// tooltip per block. It reads a BlockMapModel.
// Thread: the GUI thread.

#include <QWidget>

namespace corolla {

class BlockMapModel;

class BlockMapWidget : public QWidget {
    Q_OBJECT
public:
    explicit BlockMapWidget(BlockMapModel *model, QWidget *parent = nullptr);

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;
    // The block under a point, or -1.
    int blockAt(const QPoint &point) const;

protected:
    void paintEvent(QPaintEvent *event) override;
    bool event(QEvent *event) override;
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override;

private:
    struct Grid {
        int columns = 1;
        int tile = 1;
    };
    Grid grid(int width) const;
    QRect tileRect(int block, const Grid &grid) const;

    BlockMapModel *m_model;
};

} // namespace corolla
