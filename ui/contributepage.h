#pragma once
// Contribute: the "Donate my GPU" switch with what to serve with (device, memory budget,
// block count, dtype), the block map of the whole model with this computer's blocks
// highlighted, live counters of what this computer serves, and the local API server's state.
// Thread: the GUI thread.

#include <QWidget>

#include "facade/enginetypes.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace corolla {

class BlockMapModel;
class BlockMapWidget;
class DonationController;
class Settings;

class ContributePage : public QWidget {
    Q_OBJECT
public:
    ContributePage(DonationController &donation, Settings &settings, QWidget *parent = nullptr);

    void setStatus(const EngineStatus &status);
    void setApiStatus(const ApiStatus &status);
    BlockMapModel *blockMapModel() const { return m_blockMap; }
    QPushButton *donateSwitch() const { return m_switch; }
    QString stateText() const;

private:
    void refreshSwitch();
    void saveServingSettings();

    DonationController &m_donation;
    Settings &m_settings;
    EngineStatus m_status;
    BlockMapModel *m_blockMap = nullptr;

    QPushButton *m_switch = nullptr;
    QLabel *m_state = nullptr;
    QLabel *m_api = nullptr;
    QComboBox *m_device = nullptr;
    QSpinBox *m_memoryBudget = nullptr;
    QSpinBox *m_blockCount = nullptr;
    QComboBox *m_dtype = nullptr;
    QComboBox *m_quantization = nullptr;
    BlockMapWidget *m_map = nullptr;
    QLabel *m_mapCaption = nullptr;
    QLabel *m_tokensServed = nullptr;
    QLabel *m_requests = nullptr;
    QLabel *m_sessions = nullptr;
    QLabel *m_uptime = nullptr;
    QLabel *m_load = nullptr;
    QLabel *m_network = nullptr;
};

} // namespace corolla
