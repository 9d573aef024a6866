#include "ui/traycontroller.h"

#include <QAction>
#include <QIcon>
#include <QMenu>
#include <QSystemTrayIcon>

#include "ui/donationcontroller.h"

namespace corolla {

namespace {

constexpr int kPauseSeconds = 60 * 60;

} // namespace

TrayController::TrayController(DonationController &donation, QObject *parent)
    : QObject(parent)
    , m_donation(donation)
    , m_menu(new QMenu)
{
    m_donate = m_menu->addAction(tr("Donate my GPU"));
    m_donate->setCheckable(true);
    m_pause = m_menu->addAction(tr("Pause for 1 hour"));
    m_menu->addSeparator();
    m_open = m_menu->addAction(tr("Open Corolla"));
    m_quit = m_menu->addAction(tr("Quit"));

    connect(m_donate, &QAction::triggered, this,
            [this](bool checked) { m_donation.setWanted(checked); });
    connect(m_pause, &QAction::triggered, this, [this] {
        if (m_donation.isPaused())
            m_donation.resume();
        else
            m_donation.pauseFor(kPauseSeconds);
    });
    connect(m_open, &QAction::triggered, this, &TrayController::openRequested);
    connect(m_quit, &QAction::triggered, this, &TrayController::quitRequested);
    connect(&m_donation, &DonationController::changed, this, &TrayController::refresh);

    m_icon = new QSystemTrayIcon(QIcon(QStringLiteral(":/icons/corolla.svg")), this);
    m_icon->setContextMenu(m_menu);
    connect(m_icon, &QSystemTrayIcon::activated, this,
            [this](QSystemTrayIcon::ActivationReason reason) {
                if (reason == QSystemTrayIcon::Trigger || reason == QSystemTrayIcon::DoubleClick)
                    Q_EMIT openRequested();
            });
    refresh();
}

TrayController::~TrayController()
{
    delete m_menu;
}

bool TrayController::show()
{
    if (!QSystemTrayIcon::isSystemTrayAvailable())
        return false;
    m_icon->show();
    return true;
}

void TrayController::showMessage(const QString &title, const QString &text)
{
    if (m_icon->isVisible())
        m_icon->showMessage(title, text, QSystemTrayIcon::Information, 8000);
}

void TrayController::setStatus(const EngineStatus &status)
{
    m_status = status;
    m_icon->setToolTip(toolTip());
}

QString TrayController::toolTip() const
{
    const ContributionStatus &contribution = m_status.contribution;
    QString state;
    switch (m_donation.reason()) {
    case DonationController::Reason::Serving:
        state = contribution.state == ServingState::Online
                    ? tr("Serving blocks %1–%2 at %3 tokens/s")
                          .arg(contribution.start)
                          .arg(contribution.end - 1)
                          .arg(contribution.tokensPerSecond, 0, 'f', 1)
                    : tr("Starting to serve…");
        break;
    case DonationController::Reason::SwitchedOff: state = tr("Not donating"); break;
    case DonationController::Reason::Paused:
        state = tr("Paused until %1")
                    .arg(QLocale().toString(m_donation.pausedUntil().toLocalTime().time(),
                                            QLocale::ShortFormat));
        break;
    case DonationController::Reason::OnBattery: state = tr("Waiting for mains power"); break;
    case DonationController::Reason::Busy: state = tr("Waiting until the computer is idle"); break;
    }
    return tr("Corolla: %1").arg(state);
}

void TrayController::refresh()
{
    m_donate->setChecked(m_donation.isWanted());
    m_pause->setText(m_donation.isPaused() ? tr("Resume donating") : tr("Pause for 1 hour"));
    m_pause->setEnabled(m_donation.isWanted());
    m_icon->setToolTip(toolTip());
}

} // namespace corolla
