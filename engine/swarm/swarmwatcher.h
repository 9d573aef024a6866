#pragma once
// Keeps a SwarmState up to date from a set of registries, and publishes this peer's own
// records through all of them.
// Thread: the engine thread.

#include <memory>
#include <string>
#include <vector>

#include <QObject>
#include <QTimer>

#include "swarm/registry.h"
#include "swarm/swarmstate.h"

namespace corolla {

class PeerIdentity;

class SwarmWatcher : public QObject {
    Q_OBJECT
public:
    SwarmWatcher(std::string modelId, QObject *parent = nullptr);
    ~SwarmWatcher() override;

    void addRegistry(std::unique_ptr<Registry> registry);
    const std::vector<std::unique_ptr<Registry>> &registries() const { return m_registries; }

    const std::string &modelId() const { return m_modelId; }
    const SwarmState &state() const { return m_state; }

    // Looks the swarm up now and then every intervalMs.
    void start(int intervalMs);
    void refresh();

    // Signs `record`, publishes it everywhere and takes it into our own state; returns the
    // signed bytes.
    QByteArray publish(const proto::ServerRecord &record, const PeerIdentity &identity);

    // Counts of records accepted and rejected so far (forged, expired, malformed).
    int acceptedRecords() const { return m_accepted; }
    int rejectedRecords() const { return m_rejected; }

Q_SIGNALS:
    void changed();
    void problem(const QString &message);

private:
    void onRecordsFound(const QList<QByteArray> &signedRecords);

    std::string m_modelId;
    std::vector<std::unique_ptr<Registry>> m_registries;
    SwarmState m_state;
    QTimer m_timer;
    int m_accepted = 0;
    int m_rejected = 0;
};

} // namespace corolla
