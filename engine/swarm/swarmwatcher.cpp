#include "swarm/swarmwatcher.h"

#include "swarm/serverrecord.h"

namespace corolla {

SwarmWatcher::SwarmWatcher(std::string modelId, QObject *parent)
    : QObject(parent)
    , m_modelId(std::move(modelId))
{
    connect(&m_timer, &QTimer::timeout, this, &SwarmWatcher::refresh);
}

SwarmWatcher::~SwarmWatcher() = default;

void SwarmWatcher::addRegistry(std::unique_ptr<Registry> registry)
{
    connect(registry.get(), &Registry::recordsFound, this, &SwarmWatcher::onRecordsFound);
    connect(registry.get(), &Registry::problem, this, &SwarmWatcher::problem);
    m_registries.push_back(std::move(registry));
}

void SwarmWatcher::start(int intervalMs)
{
    m_timer.start(intervalMs);
    refresh();
}

void SwarmWatcher::refresh()
{
    m_state.prune(unixTimeMs());
    for (const auto &registry : m_registries)
        registry->lookup(m_modelId);
    Q_EMIT changed();
}

QByteArray SwarmWatcher::publish(const proto::ServerRecord &record, const PeerIdentity &identity)
{
    const QByteArray signedRecord = signRecord(record, identity);
    for (const auto &registry : m_registries)
        registry->announce(signedRecord, record);
    m_state.insert(record);
    Q_EMIT changed();
    return signedRecord;
}

void SwarmWatcher::onRecordsFound(const QList<QByteArray> &signedRecords)
{
    const std::int64_t now = unixTimeMs();
    bool any = false;
    for (const QByteArray &bytes : signedRecords) {
        auto record = verifyRecord(bytes, now);
        if (!record) {
            ++m_rejected;
            continue;
        }
        ++m_accepted;
        if (record->model_id() == m_modelId) {
            m_state.insert(*record);
            any = true;
        }
    }
    if (any)
        Q_EMIT changed();
}

} // namespace corolla
