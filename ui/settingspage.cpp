#include "ui/settingspage.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QVBoxLayout>

#include "facade/engine.h"
#include "ui/autostart.h"
#include "ui/settings.h"

namespace corolla {

namespace {

QStringList splitList(const QString &text)
{
    return text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
}

} // namespace

QStringList SettingsPage::languages()
{
    return {QString(), QStringLiteral("en"), QStringLiteral("zh_CN")};
}

SettingsPage::SettingsPage(Settings &settings, QWidget *parent)
    : QWidget(parent)
    , m_settings(settings)
{
    m_modelDir = new QLineEdit;
    m_modelDir->setObjectName(QStringLiteral("modelDir"));
    m_modelDir->setPlaceholderText(
        tr("A model folder with config.json, e.g. ~/models/Llama-2-70b-chat-hf"));
    auto *getModel = new QPushButton(tr("Get a model…"));
    getModel->setObjectName(QStringLiteral("getModel"));
    auto *browse = new QPushButton(tr("Browse…"));
    auto *demo = new QPushButton(tr("Use the local demo swarm"));
    auto *modelRow = new QHBoxLayout;
    modelRow->addWidget(m_modelDir, 1);
    modelRow->addWidget(getModel);
    modelRow->addWidget(browse);
    m_download = new QLabel;
    m_download->setObjectName(QStringLiteral("settingsDownload"));
    m_download->setWordWrap(true);
    m_download->setVisible(false);
    modelRow->addWidget(demo);

    m_dhtBootstrap = new QLineEdit;
    m_dhtBootstrap->setObjectName(QStringLiteral("dhtBootstrap"));
    m_dhtBootstrap->setPlaceholderText(tr("host:port of DHT nodes, separated by commas"));
    m_lan = new QCheckBox(tr("Find peers on the local network"));
    m_staticPeers = new QPlainTextEdit;
    m_staticPeers->setObjectName(QStringLiteral("staticPeers"));
    m_staticPeers->setPlaceholderText(tr("One server per line: host:port [peer ID]"));
    m_staticPeers->setMaximumHeight(80);
    m_port = new QSpinBox;
    m_port->setRange(0, 65535);
    m_port->setSpecialValueText(tr("any free port"));
    m_publicName = new QLineEdit;
    m_publicName->setPlaceholderText(tr("Shown to other peers, e.g. your nickname"));

    m_apiEnabled = new QCheckBox(tr("Answer OpenAI-compatible requests on this computer"));
    m_apiEnabled->setObjectName(QStringLiteral("apiEnabled"));
    m_apiPort = new QSpinBox;
    m_apiPort->setObjectName(QStringLiteral("apiPort"));
    m_apiPort->setRange(1, 65535);
    m_apiKey = new QLineEdit;
    m_apiKey->setObjectName(QStringLiteral("apiKey"));
    m_apiKey->setPlaceholderText(tr("Optional: the key clients must send"));
    auto *apiNote = new QLabel(
        tr("Tools that speak the OpenAI API (editors, chat front ends, scripts) use the chat's "
           "model through the swarm at http://127.0.0.1:PORT/v1. Only programs on this "
           "computer can reach it."));
    apiNote->setWordWrap(true);

    m_onlyOnMains = new QCheckBox(tr("Serve only on mains power"));
    m_onlyWhenIdle = new QCheckBox(tr("Serve only when the computer is idle"));
    m_startAtLogin = new QCheckBox(tr("Start Corolla when I log in"));
    m_startAtLogin->setObjectName(QStringLiteral("startAtLogin"));
    m_startMinimized = new QCheckBox(tr("Start minimized to the tray"));
    m_closeToTray = new QCheckBox(tr("Closing the window keeps Corolla running in the tray"));
    m_language = new QComboBox;
    m_language->addItem(tr("System language"), QString());
    m_language->addItem(QStringLiteral("English"), QStringLiteral("en"));
    m_language->addItem(QStringLiteral("简体中文"), QStringLiteral("zh_CN"));

    auto *swarmBox = new QGroupBox(tr("Swarm"));
    auto *swarmForm = new QFormLayout(swarmBox);
    swarmForm->addRow(tr("Model"), modelRow);
    swarmForm->addRow(QString(), m_download);
    swarmForm->addRow(tr("DHT bootstrap nodes"), m_dhtBootstrap);
    swarmForm->addRow(QString(), m_lan);
    swarmForm->addRow(tr("Static peers"), m_staticPeers);
    swarmForm->addRow(tr("Server port"), m_port);
    swarmForm->addRow(tr("Public name"), m_publicName);

    auto *apiBox = new QGroupBox(tr("Local API server"));
    auto *apiForm = new QFormLayout(apiBox);
    apiForm->addRow(m_apiEnabled);
    apiForm->addRow(tr("Port"), m_apiPort);
    apiForm->addRow(tr("API key"), m_apiKey);
    apiForm->addRow(apiNote);

    auto *appBox = new QGroupBox(tr("Application"));
    auto *appForm = new QFormLayout(appBox);
    appForm->addRow(m_onlyOnMains);
    appForm->addRow(m_onlyWhenIdle);
    appForm->addRow(m_startAtLogin);
    appForm->addRow(m_startMinimized);
    appForm->addRow(m_closeToTray);
    appForm->addRow(tr("Language"), m_language);

    m_message = new QLabel;
    m_message->setWordWrap(true);
    auto *applyButton = new QPushButton(tr("Apply"));
    applyButton->setObjectName(QStringLiteral("applySettings"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_message, 1);
    buttons->addWidget(applyButton);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(swarmBox);
    layout->addWidget(apiBox);
    layout->addWidget(appBox);
    layout->addStretch();
    layout->addLayout(buttons);

    connect(browse, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Choose a model folder"),
                                                                 m_modelDir->text());
        if (!folder.isEmpty())
            m_modelDir->setText(folder);
    });
    connect(demo, &QPushButton::clicked, this, &SettingsPage::demoSwarmRequested);
    connect(getModel, &QPushButton::clicked, this, &SettingsPage::modelPickerRequested);
    connect(applyButton, &QPushButton::clicked, this, &SettingsPage::apply);
    reload();
}

void SettingsPage::reload()
{
    m_modelDir->setText(m_settings.modelDir);
    m_dhtBootstrap->setText(m_settings.dhtBootstrap.get().join(QStringLiteral(", ")));
    m_lan->setChecked(m_settings.lanDiscovery);
    m_staticPeers->setPlainText(m_settings.staticPeers);
    m_port->setValue(m_settings.port);
    m_publicName->setText(m_settings.publicName);
    m_apiEnabled->setChecked(m_settings.apiEnabled);
    m_apiPort->setValue(m_settings.apiSettings().port);
    m_apiKey->setText(m_settings.apiKey);
    m_onlyOnMains->setChecked(m_settings.onlyOnMainsPower);
    m_onlyWhenIdle->setChecked(m_settings.onlyWhenIdle);
    // What the system will do, which the user may have changed outside Corolla.
    m_startAtLogin->setChecked(isStartAtLoginEnabled());
    m_startMinimized->setChecked(m_settings.startMinimized);
    m_closeToTray->setChecked(m_settings.closeToTray);
    m_language->setCurrentIndex(std::max(0, m_language->findData(m_settings.language.get())));
}

void SettingsPage::showDownload(const QString &text)
{
    m_download->setText(text);
    m_download->setVisible(!text.isEmpty());
}

QString SettingsPage::validate() const
{
    const QString model = m_modelDir->text().trimmed();
    if (!model.isEmpty()
        && !QFileInfo::exists(
            QDir(QDir::fromNativeSeparators(model)).filePath(QStringLiteral("config.json"))))
        return tr("%1 is not a model folder: it has no config.json.").arg(model);
    for (const QString &node : splitList(m_dhtBootstrap->text())) {
        if (!Engine::isHostPort(node))
            return tr("\"%1\" is not a DHT node address; write host:port.").arg(node);
    }
    if (const int line = Engine::invalidStaticPeerLine(m_staticPeers->toPlainText()))
        return tr("Static peers, line %1: write host:port, optionally followed by the peer ID.")
            .arg(line);
    if (m_apiEnabled->isChecked() && m_apiPort->value() == m_port->value())
        return tr("The API server and the block server need different ports.");
    static const QRegularExpression keyCharacters(QStringLiteral("^[\\x21-\\x7e]*$"));
    if (!keyCharacters.match(m_apiKey->text().trimmed()).hasMatch())
        return tr("The API key may hold letters, digits and punctuation, but no spaces.");
    return {};
}

bool SettingsPage::apply()
{
    const QString problem = validate();
    m_message->setText(problem);
    m_message->setStyleSheet(problem.isEmpty() ? QString() : QStringLiteral("color: #b3261e;"));
    if (!problem.isEmpty())
        return false;
    const QString language = m_language->currentData().toString();
    const bool languageChanged = language != m_settings.language.get();
    m_settings.modelDir = QDir::fromNativeSeparators(m_modelDir->text().trimmed());
    m_settings.dhtBootstrap = splitList(m_dhtBootstrap->text());
    m_settings.lanDiscovery = m_lan->isChecked();
    m_settings.staticPeers = m_staticPeers->toPlainText();
    m_settings.port = m_port->value();
    m_settings.publicName = m_publicName->text().trimmed();
    m_settings.apiEnabled = m_apiEnabled->isChecked();
    m_settings.apiPort = m_apiPort->value();
    m_settings.apiKey = m_apiKey->text().trimmed();
    m_settings.onlyOnMainsPower = m_onlyOnMains->isChecked();
    m_settings.onlyWhenIdle = m_onlyWhenIdle->isChecked();
    m_settings.startMinimized = m_startMinimized->isChecked();
    m_settings.closeToTray = m_closeToTray->isChecked();
    m_settings.language = language;
    if (m_startAtLogin->isChecked() != isStartAtLoginEnabled()) {
        QString error;
        if (!setStartAtLogin(m_startAtLogin->isChecked(), QCoreApplication::applicationFilePath(),
                             &error)) {
            m_message->setText(tr("Could not change starting at login: %1").arg(error));
            m_startAtLogin->setChecked(isStartAtLoginEnabled());
        } else {
            m_settings.startAtLogin = m_startAtLogin->isChecked();
        }
    }
    m_settings.useDemoSwarm = false;
    m_settings.sync();
    if (m_message->text().isEmpty())
        m_message->setText(languageChanged
                               ? tr("Saved. The new language is used from the next start.")
                               : tr("Saved."));
    Q_EMIT applied(languageChanged);
    return true;
}

} // namespace corolla
