#pragma once
// The engine behind the desktop app: this machine's server ("Donate my GPU"), the local demo
// swarm's in-process servers, and a view of the swarm; every half second it sums them up in
// one EngineStatus snapshot.
// Thread: the engine thread (its own event loop); loading and compute run on each server's
// compute queue.

#include <chrono>
#include <memory>
#include <stop_token>
#include <vector>

#include <QHash>
#include <QLockFile>
#include <QObject>
#include <QTimer>

#include "facade/enginetypes.h"
#include "model/modelconfig.h"
#include "swarm/swarmconnection.h"

namespace corolla {

class RecordBoard;
class ServerNode;

class EngineHost : public QObject {
    Q_OBJECT
public:
    // `dataFolder` holds the identity, the demo model and the throughput cache.
    explicit EngineHost(QString dataFolder, QObject *parent = nullptr);
    // Stops every server, announcing that they leave (see shutDown).
    ~EngineHost() override;

    // Joins the swarm the settings describe (leaving the demo swarm).
    void applySettings(const SwarmSettings &settings);
    // Starts `servers` in-process servers of the demo model and joins them; this peer's own
    // server keeps the settings' public name.
    void startDemo(int servers, const SwarmSettings &settings);
    // Serves with `settings` on the current swarm (serving already with the same settings goes
    // on undisturbed), or stops serving.
    void startDonating(const DonateSettings &settings);
    void stopDonating();
    void setPings(const QHash<QString, double> &pingMs);
    void setChatState(bool ready, const QString &problem);

Q_SIGNALS:
    void statusChanged(const corolla::EngineStatus &status);
    // The client part of the chat should use this model and swarm.
    void chatModelChanged(const QString &modelDir, const corolla::SwarmConnection &connection);
    void log(const QString &message);

private:
    // Stops every server, announcing that they leave, and gives the announcements a moment to
    // go out (the app is quitting: nothing else waits for this thread).
    void shutDown();
    void joinSwarm(const QString &modelDir, const SwarmConnection &connection);
    void startOwnServer();
    void stopOwnServer();
    void stopDemoServers();
    void publishStatus();
    ContributionStatus contribution(double periodSeconds);
    void fillSwarm(EngineStatus &status) const;

    QString m_dataFolder;
    SwarmSettings m_settings;
    DonateSettings m_donate;
    bool m_donating = false;

    // The swarm joined now: the demo board or the settings' registries.
    QString m_modelDir;
    ModelConfig m_config;
    std::string m_modelId;
    SwarmConnection m_connection;
    std::unique_ptr<SwarmWatcher> m_view;
    QString m_problem;

    std::shared_ptr<RecordBoard> m_demoBoard; // set while the demo swarm runs
    std::vector<std::unique_ptr<ServerNode>> m_demoServers;
    std::int64_t m_demoShare = 0; // blocks per demo server: this computer's share too

    std::unique_ptr<QLockFile> m_identityLock;
    std::stop_source m_fetchStop; // the running server's download of its shards
    std::unique_ptr<ServerNode> m_server;
    QString m_serverProblem;
    std::chrono::steady_clock::time_point m_onlineSince;
    qint64 m_lastTokensServed = 0;

    QHash<QString, double> m_pings;
    bool m_chatReady = false;
    QString m_chatProblem;
    QTimer m_statusTimer;
    std::chrono::steady_clock::time_point m_lastStatus;
};

} // namespace corolla

Q_DECLARE_METATYPE(corolla::SwarmConnection)
