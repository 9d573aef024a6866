#pragma once
// The tray icon and its menu: "Donate my GPU", "Pause for 1 hour", "Open Corolla", "Quit",
// and a tooltip with what this computer is doing.
// Thread: the GUI thread.

#include <QObject>

#include "facade/enginetypes.h"

class QAction;
class QMenu;
class QSystemTrayIcon;

namespace corolla {

class DonationController;

class TrayController : public QObject {
    Q_OBJECT
public:
    TrayController(DonationController &donation, QObject *parent = nullptr);
    ~TrayController() override;

    // Shown when the desktop has a tray; false when it has none.
    bool show();
    void showMessage(const QString &title, const QString &text);
    void setStatus(const EngineStatus &status);

    QMenu *menu() const { return m_menu; }
    QAction *donateAction() const { return m_donate; }
    QAction *pauseAction() const { return m_pause; }
    QAction *openAction() const { return m_open; }
    QAction *quitAction() const { return m_quit; }
    QString toolTip() const;

Q_SIGNALS:
    void openRequested();
    void quitRequested();

private:
    void refresh();

    DonationController &m_donation;
    QSystemTrayIcon *m_icon = nullptr;
    QMenu *m_menu = nullptr;
    QAction *m_donate = nullptr;
    QAction *m_pause = nullptr;
    QAction *m_open = nullptr;
    QAction *m_quit = nullptr;
    EngineStatus m_status;
};

} // namespace corolla
