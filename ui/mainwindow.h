#pragma once
// The main window: Contribute, Swarm, Chat and Settings tabs, the tray icon, and the offer
// of the local demo swarm when no swarm is reachable (a fresh machine, no network).
// Thread: the GUI thread.

#include <memory>

#include <QMainWindow>

#include "facade/enginetypes.h"

class QFrame;
class QLabel;
class QTabWidget;

namespace corolla {

class ChatPage;
class ContributePage;
class ConversationsModel;
class DonationController;
class DownloadController;
class ModelPicker;
class Engine;
class Settings;
class SettingsPage;
class SwarmPage;
class SystemConditions;
class TrayController;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum Tab { ContributeTab, SwarmTab, ChatTab, SettingsTab };

    MainWindow(Engine &engine, Settings &settings, const QString &dataFolder,
               std::unique_ptr<SystemConditions> conditions, QWidget *parent = nullptr);
    ~MainWindow() override;

    // Joins the swarm of the settings, or the demo swarm when it was chosen last time.
    void connectToSwarm();
    void startDemoSwarm();

    void showTab(Tab tab);
    bool isOfferingDemo() const;

    ContributePage *contributePage() const { return m_contribute; }
    SwarmPage *swarmPage() const { return m_swarm; }
    ChatPage *chatPage() const { return m_chat; }
    SettingsPage *settingsPage() const { return m_settingsPage; }
    TrayController *tray() const { return m_tray; }
    DonationController *donation() const { return m_donation; }
    DownloadController *downloads() const { return m_downloads; }
    // The model picker, created on first use.
    ModelPicker *modelPicker();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void onStatus(const EngineStatus &status);
    void quit();

    Engine &m_engine;
    Settings &m_settings;
    ConversationsModel *m_conversations = nullptr;
    DonationController *m_donation = nullptr;
    DownloadController *m_downloads = nullptr;
    ModelPicker *m_picker = nullptr;
    TrayController *m_tray = nullptr;
    QTabWidget *m_tabs = nullptr;
    ContributePage *m_contribute = nullptr;
    SwarmPage *m_swarm = nullptr;
    ChatPage *m_chat = nullptr;
    SettingsPage *m_settingsPage = nullptr;
    QFrame *m_banner = nullptr;
    QLabel *m_bannerText = nullptr;
    int m_statusesWithoutServers = 0;
    bool m_quitting = false;
};

} // namespace corolla
