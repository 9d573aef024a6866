#include "ui/mainwindow.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFrame>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPushButton>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include "facade/engine.h"
#include "ui/chatpage.h"
#include "ui/contributepage.h"
#include "ui/conversationsmodel.h"
#include "ui/donationcontroller.h"
#include "ui/downloadcontroller.h"
#include "ui/modelpicker.h"
#include "ui/settings.h"
#include "ui/settingspage.h"
#include "ui/swarmpage.h"
#include "ui/systemconditions.h"
#include "ui/traycontroller.h"

namespace corolla {

namespace {

constexpr int kDemoServers = 3;
// Status snapshots (two a second) without a single server before the demo is offered.
constexpr int kStatusesBeforeOffer = 10;

} // namespace

MainWindow::MainWindow(Engine &engine, Settings &settings, const QString &dataFolder,
                       std::unique_ptr<SystemConditions> conditions, QWidget *parent)
    : QMainWindow(parent)
    , m_engine(engine)
    , m_settings(settings)
{
    setWindowTitle(tr("Corolla"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/corolla.svg")));
    if (!restoreGeometry(settings.windowGeometry))
        resize(1000, 720);

    m_conversations = new ConversationsModel(
        QDir(dataFolder).filePath(QStringLiteral("conversations.json")), this);
    QString loadError;
    if (!m_conversations->load(&loadError))
        statusBar()->showMessage(loadError);
    m_donation = new DonationController(engine, settings, std::move(conditions), this);
    m_tray = new TrayController(*m_donation, this);
    m_downloads = new DownloadController(engine, settings, this);

    m_contribute = new ContributePage(*m_donation, settings);
    m_swarm = new SwarmPage;
    m_chat = new ChatPage(engine, *m_conversations, settings);
    m_settingsPage = new SettingsPage(settings);
    m_tabs = new QTabWidget;
    m_tabs->addTab(m_contribute, tr("Contribute"));
    m_tabs->addTab(m_swarm, tr("Swarm"));
    m_tabs->addTab(m_chat, tr("Chat"));
    m_tabs->addTab(m_settingsPage, tr("Settings"));

    m_banner = new QFrame;
    m_banner->setObjectName(QStringLiteral("demoBanner"));
    m_banner->setStyleSheet(
        QStringLiteral("#demoBanner { background: #e8f1fd; border-radius: 6px; }"));
    m_bannerText = new QLabel(
        tr("No swarm is reachable from this computer. Try Corolla offline with the "
           "bundled demo model: a local demo swarm of %1 servers runs inside the app, so "
           "donating, the block map, the peers and the chat all work without a network.")
            .arg(kDemoServers));
    m_bannerText->setWordWrap(true);
    auto *demoButton = new QPushButton(tr("Start the local demo swarm"));
    demoButton->setObjectName(QStringLiteral("startDemo"));
    auto *bannerLayout = new QHBoxLayout(m_banner);
    bannerLayout->addWidget(m_bannerText, 1);
    bannerLayout->addWidget(demoButton);
    m_banner->setVisible(false);

    auto *central = new QWidget;
    auto *layout = new QVBoxLayout(central);
    layout->addWidget(m_banner);
    layout->addWidget(m_tabs, 1);
    setCentralWidget(central);

    connect(demoButton, &QPushButton::clicked, this, &MainWindow::startDemoSwarm);
    connect(m_settingsPage, &SettingsPage::demoSwarmRequested, this, &MainWindow::startDemoSwarm);
    connect(m_settingsPage, &SettingsPage::applied, this, [this] {
        m_engine.applySettings(m_settings.swarmSettings());
        m_engine.configureApi(m_settings.apiSettings());
        m_statusesWithoutServers = 0;
        m_donation->restartServing();
    });
    connect(m_settingsPage, &SettingsPage::modelPickerRequested, this, [this] {
        modelPicker()->show();
        modelPicker()->raise();
    });
    connect(m_downloads, &DownloadController::statusChanged, this,
            [this](const DownloadStatus &status) {
                m_settingsPage->showDownload(downloadStatusText(status));
            });
    connect(m_downloads, &DownloadController::modelReady, this, [this] {
        // The downloaded model becomes the one Contribute and Chat use.
        m_settingsPage->reload();
        m_banner->setVisible(false);
        m_engine.applySettings(m_settings.swarmSettings());
        m_statusesWithoutServers = 0;
        m_donation->restartServing();
    });
    m_downloads->resumePending();
    connect(&m_engine, &Engine::statusChanged, this, &MainWindow::onStatus);
    connect(&m_engine, &Engine::apiChanged, m_contribute, &ContributePage::setApiStatus);
    m_engine.configureApi(m_settings.apiSettings());
    connect(m_tray, &TrayController::openRequested, this, [this] {
        showNormal();
        raise();
        activateWindow();
    });
    connect(m_tray, &TrayController::quitRequested, this, &MainWindow::quit);
    m_tray->show();
}

MainWindow::~MainWindow() = default;

ModelPicker *MainWindow::modelPicker()
{
    if (!m_picker)
        m_picker = new ModelPicker(*m_downloads, this);
    return m_picker;
}

void MainWindow::connectToSwarm()
{
    if (m_settings.useDemoSwarm)
        m_engine.startDemoSwarm(kDemoServers, m_settings.swarmSettings());
    else
        m_engine.applySettings(m_settings.swarmSettings());
}

void MainWindow::startDemoSwarm()
{
    m_settings.useDemoSwarm = true;
    m_banner->setVisible(false);
    m_engine.startDemoSwarm(kDemoServers, m_settings.swarmSettings());
    m_donation->restartServing();
    statusBar()->showMessage(tr("Starting the local demo swarm…"), 5000);
}

void MainWindow::showTab(Tab tab)
{
    m_tabs->setCurrentIndex(int(tab));
}

bool MainWindow::isOfferingDemo() const
{
    return !m_banner->isHidden();
}

void MainWindow::onStatus(const EngineStatus &status)
{
    m_contribute->setStatus(status);
    m_swarm->setStatus(status);
    m_tray->setStatus(status);
    // Offered on a first run (no model chosen) and whenever the swarm stays empty.
    const bool empty = !status.demoSwarm && status.peers.isEmpty();
    m_statusesWithoutServers = empty ? m_statusesWithoutServers + 1 : 0;
    m_banner->setVisible(!status.demoSwarm
                         && (m_settings.modelDir.get().isEmpty()
                             || m_statusesWithoutServers >= kStatusesBeforeOffer));
    const QString model = status.demoSwarm ? tr("Demo model") : status.modelName;
    setWindowTitle(model.isEmpty() ? tr("Corolla") : tr("Corolla — %1").arg(model));
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    m_settings.windowGeometry = saveGeometry();
    if (m_quitting || !m_settings.closeToTray || !m_tray->show()) {
        event->accept();
        QApplication::quit();
        return;
    }
    // Keeps serving in the tray; said once, the first time.
    event->ignore();
    hide();
    if (!m_settings.closeNoticeShown) {
        m_tray->showMessage(
            tr("Corolla is still running"),
            tr("Corolla keeps serving from the tray. Right-click the tray icon to pause or quit."));
        m_settings.closeNoticeShown = true;
    }
}

void MainWindow::quit()
{
    m_quitting = true;
    close();
    QApplication::quit();
}

} // namespace corolla
