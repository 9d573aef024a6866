#include "swarm/recordboard.h"

#include <QTimer>

namespace corolla {

void RecordBoard::post(const proto::ServerRecord &record, const QByteArray &signedRecord)
{
    std::lock_guard lock(m_mutex);
    m_records[{record.model_id(), record.peer_id()}] = signedRecord;
}

QList<QByteArray> RecordBoard::records(const std::string &modelId) const
{
    std::lock_guard lock(m_mutex);
    QList<QByteArray> found;
    for (const auto &[key, bytes] : m_records) {
        if (key.first == modelId)
            found.push_back(bytes);
    }
    return found;
}

void RecordBoard::clear()
{
    std::lock_guard lock(m_mutex);
    m_records.clear();
}

BoardRegistry::BoardRegistry(std::shared_ptr<RecordBoard> board, QObject *parent)
    : Registry(parent)
    , m_board(std::move(board))
{
}

void BoardRegistry::announce(const QByteArray &signedRecord, const proto::ServerRecord &record)
{
    m_board->post(record, signedRecord);
}

void BoardRegistry::lookup(const std::string &modelId)
{
    // Delivered from the event loop, as a network registry would, never inside lookup().
    QList<QByteArray> found = m_board->records(modelId);
    QTimer::singleShot(0, this, [this, found = std::move(found)] { Q_EMIT recordsFound(found); });
}

} // namespace corolla
