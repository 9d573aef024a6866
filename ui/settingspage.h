#pragma once
// Settings: the model, how to reach the swarm (DHT bootstrap nodes, LAN discovery, static
// peers), the server's port and public name, the local API server (on or off, port, key),
// when to serve, start at login, close to tray and the language. "Apply" stores them and
// reconnects.
// Thread: the GUI thread.

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace corolla {

class Settings;

class SettingsPage : public QWidget {
    Q_OBJECT
public:
    explicit SettingsPage(Settings &settings, QWidget *parent = nullptr);

    // Stores what the page shows; false (with the reason shown) when a field is invalid.
    bool apply();
    // Shows what is stored.
    void reload();
    // The state of the model download, under the model's folder.
    void showDownload(const QString &text);

    // The languages offered: "" (the system's), then locale names.
    static QStringList languages();

Q_SIGNALS:
    void applied(bool languageChanged);
    void demoSwarmRequested();
    void modelPickerRequested();

private:
    QString validate() const;

    Settings &m_settings;
    QLineEdit *m_modelDir = nullptr;
    QLabel *m_download = nullptr;
    QLineEdit *m_dhtBootstrap = nullptr;
    QCheckBox *m_lan = nullptr;
    QPlainTextEdit *m_staticPeers = nullptr;
    QSpinBox *m_port = nullptr;
    QLineEdit *m_publicName = nullptr;
    QCheckBox *m_apiEnabled = nullptr;
    QSpinBox *m_apiPort = nullptr;
    QLineEdit *m_apiKey = nullptr;
    QCheckBox *m_onlyOnMains = nullptr;
    QCheckBox *m_onlyWhenIdle = nullptr;
    QCheckBox *m_startAtLogin = nullptr;
    QCheckBox *m_startMinimized = nullptr;
    QCheckBox *m_closeToTray = nullptr;
    QComboBox *m_language = nullptr;
    QLabel *m_message = nullptr;
};

} // namespace corolla
