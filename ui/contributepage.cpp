#include "ui/contributepage.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "core/bytesize.h"
#include "facade/engine.h"
#include "ui/blockmapmodel.h"
#include "ui/blockmapwidget.h"
#include "ui/donationcontroller.h"
#include "ui/settings.h"

namespace corolla {

namespace {

QString durationText(qint64 seconds)
{
    return QStringLiteral("%1:%2:%3")
        .arg(seconds / 3600)
        .arg((seconds / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(seconds % 60, 2, 10, QLatin1Char('0'));
}

QLabel *counterLabel()
{
    auto *label = new QLabel(QStringLiteral("—"));
    label->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

// "CPU", or "GPU 0: NVIDIA H200 (120 GiB free of 140 GiB)" as far as the driver says.
QString deviceLabel(const Engine::DeviceInfo &info)
{
    if (info.device.kind != ComputeDevice::Kind::Cuda)
        return ContributePage::tr("CPU");
    if (info.name.empty())
        return ContributePage::tr("GPU %1").arg(info.device.index);
    return ContributePage::tr("GPU %1: %2 (%3 free of %4)")
        .arg(info.device.index)
        .arg(QString::fromStdString(info.name), QString::fromStdString(formatBytes(info.freeBytes)),
             QString::fromStdString(formatBytes(info.totalBytes)));
}

} // namespace

ContributePage::ContributePage(DonationController &donation, Settings &settings, QWidget *parent)
    : QWidget(parent)
    , m_donation(donation)
    , m_settings(settings)
    , m_blockMap(new BlockMapModel(this))
{
    m_switch = new QPushButton(tr("Donate my GPU"));
    m_switch->setObjectName(QStringLiteral("donateSwitch"));
    m_switch->setCheckable(true);
    m_switch->setMinimumHeight(44);
    m_switch->setStyleSheet(
        QStringLiteral("QPushButton { font-size: 16px; padding: 8px 24px; }"
                       "QPushButton:checked { background: #238b45; color: white; }"));
    m_state = new QLabel;
    m_state->setWordWrap(true);

    m_device = new QComboBox;
    m_device->addItem(tr("Automatic (a GPU when there is one)"),
                      QString::fromStdString(ComputeDevice::automatic().name()));
    for (const Engine::DeviceInfo &info : Engine::computeDevices())
        m_device->addItem(deviceLabel(info), QString::fromStdString(info.device.name()));
    m_device->setCurrentIndex(std::max(0, m_device->findData(m_settings.device.get())));
    m_memoryBudget = new QSpinBox;
    m_memoryBudget->setRange(0, 1024 * 1024);
    m_memoryBudget->setSingleStep(256);
    m_memoryBudget->setSuffix(tr(" MiB"));
    m_memoryBudget->setSpecialValueText(tr("automatic (half the RAM, or most of a GPU's)"));
    m_memoryBudget->setValue(m_settings.memoryBudgetMiB);
    m_blockCount = new QSpinBox;
    m_blockCount->setRange(0, 1000);
    m_blockCount->setSpecialValueText(tr("automatic"));
    m_blockCount->setValue(m_settings.blockCount);
    m_dtype = new QComboBox;
    m_dtype->addItem(tr("bfloat16 (half the memory)"),
                     QString::fromLatin1(computeDtypeName(ComputeDtype::BFloat16)));
    m_dtype->addItem(tr("float32"), QString::fromLatin1(computeDtypeName(ComputeDtype::Float32)));
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(m_settings.dtype.get())));
    m_quantization = new QComboBox;
    m_quantization->addItem(tr("as in the model (exact)"),
                            QString::fromLatin1(quantizationName(Quantization::None)));
    m_quantization->addItem(tr("int8 (about half of bfloat16)"),
                            QString::fromLatin1(quantizationName(Quantization::Int8)));
    m_quantization->addItem(tr("NF4 (about a quarter of bfloat16)"),
                            QString::fromLatin1(quantizationName(Quantization::Nf4)));
    m_quantization->setToolTip(
        tr("Packed weights take less memory, so this computer holds more blocks, and decode "
           "faster; they change the answers slightly."));
    m_quantization->setCurrentIndex(
        std::max(0, m_quantization->findData(m_settings.quantization.get())));

    auto *servingBox = new QGroupBox(tr("Serve with"));
    auto *form = new QFormLayout(servingBox);
    form->addRow(tr("Device"), m_device);
    form->addRow(tr("Memory budget"), m_memoryBudget);
    form->addRow(tr("Blocks"), m_blockCount);
    form->addRow(tr("Precision"), m_dtype);
    form->addRow(tr("Weights"), m_quantization);

    auto *mapBox = new QGroupBox(tr("Block map"));
    auto *mapLayout = new QVBoxLayout(mapBox);
    m_map = new BlockMapWidget(m_blockMap);
    m_mapCaption = new QLabel;
    m_mapCaption->setWordWrap(true);
    mapLayout->addWidget(m_map);
    mapLayout->addWidget(m_mapCaption);

    auto *countersBox = new QGroupBox(tr("This computer"));
    auto *counters = new QGridLayout(countersBox);
    m_tokensServed = counterLabel();
    m_requests = counterLabel();
    m_sessions = counterLabel();
    m_uptime = counterLabel();
    m_load = counterLabel();
    m_network = counterLabel();
    const QList<std::pair<QString, QLabel *>> rows = {
        {tr("Tokens served"), m_tokensServed}, {tr("Requests"), m_requests},
        {tr("Open sessions"), m_sessions},     {tr("Uptime"), m_uptime},
        {tr("Current load"), m_load},          {tr("Network in / out"), m_network}};
    for (int i = 0; i < rows.size(); ++i) {
        counters->addWidget(new QLabel(rows[i].first), i / 2, (i % 2) * 2);
        counters->addWidget(rows[i].second, i / 2, (i % 2) * 2 + 1);
    }

    m_api = new QLabel;
    m_api->setObjectName(QStringLiteral("apiStatus"));
    m_api->setWordWrap(true);
    m_api->setTextInteractionFlags(Qt::TextSelectableByMouse);
    setApiStatus({});

    auto *top = new QHBoxLayout;
    auto *switchColumn = new QVBoxLayout;
    switchColumn->addWidget(m_switch);
    switchColumn->addWidget(m_state);
    switchColumn->addWidget(m_api);
    switchColumn->addStretch();
    top->addLayout(switchColumn, 1);
    top->addWidget(servingBox, 1);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(mapBox);
    layout->addWidget(countersBox);
    layout->addStretch();

    connect(m_switch, &QPushButton::toggled, this, [this](bool on) {
        if (on != m_donation.isWanted())
            m_donation.setWanted(on);
    });
    connect(&m_donation, &DonationController::changed, this, &ContributePage::refreshSwitch);
    for (QComboBox *combo : {m_device, m_dtype, m_quantization})
        connect(combo, &QComboBox::activated, this, &ContributePage::saveServingSettings);
    for (QSpinBox *spin : {m_memoryBudget, m_blockCount})
        connect(spin, &QSpinBox::editingFinished, this, &ContributePage::saveServingSettings);
    refreshSwitch();
}

void ContributePage::saveServingSettings()
{
    m_settings.device = m_device->currentData().toString();
    m_settings.memoryBudgetMiB = m_memoryBudget->value();
    m_settings.blockCount = m_blockCount->value();
    m_settings.dtype = m_dtype->currentData().toString();
    m_settings.quantization = m_quantization->currentData().toString();
    m_donation.restartServing();
}

void ContributePage::refreshSwitch()
{
    m_switch->setChecked(m_donation.isWanted());
    m_state->setText(stateText());
}

QString ContributePage::stateText() const
{
    const ContributionStatus &contribution = m_status.contribution;
    switch (m_donation.reason()) {
    case DonationController::Reason::SwitchedOff:
        return tr("Not donating. Turn the switch on to lend this computer to the swarm.");
    case DonationController::Reason::Paused:
        return tr("Paused until %1.")
            .arg(QLocale().toString(m_donation.pausedUntil().toLocalTime().time(),
                                    QLocale::ShortFormat));
    case DonationController::Reason::OnBattery:
        return tr("Waiting for mains power (you asked to serve only when plugged in).");
    case DonationController::Reason::Busy:
        return tr("Waiting until the computer is idle (you asked to serve only then).");
    case DonationController::Reason::Serving: break;
    }
    switch (contribution.state) {
    case ServingState::Online:
        return tr("Serving blocks %1–%2 of %3 on port %4.")
            .arg(contribution.start)
            .arg(contribution.end - 1)
            .arg(m_status.numBlocks)
            .arg(contribution.port);
    case ServingState::Failed: return tr("Serving stopped: %1").arg(contribution.message);
    case ServingState::Starting:
    case ServingState::Off: break;
    }
    return tr("Choosing and loading blocks…");
}

void ContributePage::setStatus(const EngineStatus &status)
{
    m_status = status;
    m_blockMap->setBlocks(status.blocks);
    m_state->setText(stateText());
    const ContributionStatus &contribution = status.contribution;
    const QLocale locale;
    m_tokensServed->setText(locale.toString(contribution.tokensServed));
    m_requests->setText(locale.toString(contribution.requests));
    m_sessions->setText(locale.toString(contribution.sessionsOpen));
    m_uptime->setText(durationText(contribution.uptimeSeconds));
    m_load->setText(tr("%1 tokens/s, %2 queued")
                        .arg(contribution.tokensPerSecond, 0, 'f', 1)
                        .arg(contribution.load));
    m_network->setText(tr("%1 / %2").arg(locale.formattedDataSize(contribution.bytesIn),
                                         locale.formattedDataSize(contribution.bytesOut)));
    if (status.numBlocks == 0) {
        m_mapCaption->setText(
            tr("No model yet: choose one in Settings, or start the local demo swarm."));
    } else if (status.missingBlocks.isEmpty()) {
        m_mapCaption->setText(
            tr("%1: all %2 blocks are served. Green is throughput; outlined blocks are "
               "this computer's.")
                .arg(status.demoSwarm ? tr("Demo model") : status.modelName)
                .arg(status.numBlocks));
    } else {
        m_mapCaption->setText(
            tr("%1: %n block(s) have no server (red). Donating fills the weakest blocks first.",
               nullptr, int(status.missingBlocks.size()))
                .arg(status.demoSwarm ? tr("Demo model") : status.modelName));
    }
}

void ContributePage::setApiStatus(const ApiStatus &status)
{
    switch (status.state) {
    case ApiState::Off:
        m_api->setText(tr("Local API server: off (turn it on in Settings)."));
        return;
    case ApiState::Starting: m_api->setText(tr("Local API server: starting…")); return;
    case ApiState::Listening:
        m_api->setText(tr("Local API server: %1, model \"%2\"; %n request(s) running.", nullptr,
                          status.activeRequests)
                           .arg(status.url, status.modelId));
        return;
    case ApiState::Failed:
        switch (status.problem) {
        case ApiProblem::NoModel:
            m_api->setText(tr("Local API server: waiting for a model (choose one in Settings)."));
            return;
        case ApiProblem::PortTaken:
            m_api->setText(tr("Local API server: port %1 is taken by another program; choose "
                              "another in Settings.")
                               .arg(status.port));
            return;
        case ApiProblem::ModelFailed:
        case ApiProblem::None:
            m_api->setText(tr("Local API server failed: %1").arg(status.message));
            return;
        }
        return;
    }
}

} // namespace corolla
