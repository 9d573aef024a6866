#pragma once
// Every setting of the app in one place: each a typed value with its key and default,
// stored with QSettings (the registry on Windows, an ini file elsewhere).
// Thread: the GUI thread.

#include <memory>

#include <QSettings>
#include <QStringList>

#include "facade/enginetypes.h"

namespace corolla {

template <typename T> class SettingValue {
public:
    SettingValue(QSettings &storage, QString key, T defaultValue)
        : m_storage(storage)
        , m_key(std::move(key))
        , m_default(std::move(defaultValue))
    {
    }

    T get() const
    {
        return m_storage.value(m_key, QVariant::fromValue(m_default)).template value<T>();
    }
    void set(const T &value) { m_storage.setValue(m_key, QVariant::fromValue(value)); }
    operator T() const { return get(); }
    SettingValue &operator=(const T &value)
    {
        set(value);
        return *this;
    }
    const QString &key() const { return m_key; }

private:
    QSettings &m_storage;
    QString m_key;
    T m_default;
};

class Settings {
public:
    // The user's settings; tests pass an ini file of their own.
    explicit Settings(std::unique_ptr<QSettings> storage = std::make_unique<QSettings>());

    void sync() { m_storage->sync(); }
    QString fileName() const { return m_storage->fileName(); }

private:
    std::unique_ptr<QSettings> m_storage; // declared first: the values below refer to it

public:
    // Swarm connection
    SettingValue<QString> modelDir{*m_storage, QStringLiteral("swarm/modelDir"), QString()};
    SettingValue<QStringList> dhtBootstrap{*m_storage, QStringLiteral("swarm/dhtBootstrap"),
                                           QStringList()};
    SettingValue<bool> lanDiscovery{*m_storage, QStringLiteral("swarm/lanDiscovery"), true};
    SettingValue<QString> staticPeers{*m_storage, QStringLiteral("swarm/staticPeers"), QString()};
    SettingValue<int> port{*m_storage, QStringLiteral("swarm/port"), 0};
    SettingValue<QString> publicName{*m_storage, QStringLiteral("swarm/publicName"), QString()};
    SettingValue<bool> useDemoSwarm{*m_storage, QStringLiteral("swarm/useDemoSwarm"), false};
    // A Hub model being downloaded (ORG/NAME[@REVISION]): resumed at the next start until done.
    SettingValue<QString> pendingDownload{*m_storage, QStringLiteral("models/pendingDownload"),
                                          QString()};

    // Contribute
    SettingValue<bool> donate{*m_storage, QStringLiteral("contribute/donate"), false};
    SettingValue<QString> device{*m_storage, QStringLiteral("contribute/device"),
                                 QStringLiteral("auto")};
    SettingValue<int> memoryBudgetMiB{*m_storage, QStringLiteral("contribute/memoryBudgetMiB"), 0};
    SettingValue<int> blockCount{*m_storage, QStringLiteral("contribute/blockCount"), 0};
    SettingValue<QString> dtype{*m_storage, QStringLiteral("contribute/dtype"),
                                QStringLiteral("bf16")};
    SettingValue<QString> quantization{*m_storage, QStringLiteral("contribute/quantization"),
                                       QStringLiteral("none")};
    SettingValue<bool> onlyOnMainsPower{*m_storage, QStringLiteral("contribute/onlyOnMainsPower"),
                                        false};
    SettingValue<bool> onlyWhenIdle{*m_storage, QStringLiteral("contribute/onlyWhenIdle"), false};

    // The local OpenAI-compatible API (defaults: the engine's, ApiSettings)
    SettingValue<bool> apiEnabled{*m_storage, QStringLiteral("api/enabled"), ApiSettings{}.enabled};
    SettingValue<int> apiPort{*m_storage, QStringLiteral("api/port"), int(ApiSettings{}.port)};
    SettingValue<QString> apiKey{*m_storage, QStringLiteral("api/key"), QString()};

    // Chat (defaults: the engine's, SamplingSettings)
    SettingValue<double> temperature{*m_storage, QStringLiteral("chat/temperature"),
                                     SamplingSettings{}.temperature};
    SettingValue<double> topP{*m_storage, QStringLiteral("chat/topP"), SamplingSettings{}.topP};
    SettingValue<int> topK{*m_storage, QStringLiteral("chat/topK"), SamplingSettings{}.topK};
    SettingValue<int> maxTokens{*m_storage, QStringLiteral("chat/maxTokens"),
                                SamplingSettings{}.maxTokens};
    SettingValue<qint64> seed{*m_storage, QStringLiteral("chat/seed"), SamplingSettings{}.seed};

    // Application
    SettingValue<bool> startAtLogin{*m_storage, QStringLiteral("app/startAtLogin"), false};
    SettingValue<bool> startMinimized{*m_storage, QStringLiteral("app/startMinimized"), true};
    SettingValue<bool> closeToTray{*m_storage, QStringLiteral("app/closeToTray"), true};
    SettingValue<bool> closeNoticeShown{*m_storage, QStringLiteral("app/closeNoticeShown"), false};
    SettingValue<QString> language{*m_storage, QStringLiteral("app/language"),
                                   QString()}; // empty: the system's
    SettingValue<QByteArray> windowGeometry{*m_storage, QStringLiteral("app/windowGeometry"),
                                            QByteArray()};

    SwarmSettings swarmSettings() const;
    DonateSettings donateSettings() const;
    ApiSettings apiSettings() const;
    SamplingSettings sampling() const;
    void setSampling(const SamplingSettings &sampling);
};

} // namespace corolla
