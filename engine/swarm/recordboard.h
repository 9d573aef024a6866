#pragma once
// A registry inside one process: the desktop app's local demo swarm, whose servers and
// client live in the same program with no network to announce on. Records are still signed
// and verified like any other registry's; the board only carries the bytes.
// Thread: RecordBoard from any thread; a BoardRegistry on its owner's thread.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "swarm/registry.h"

namespace corolla {

class RecordBoard {
public:
    // Keeps the newest announcement of each (model, peer).
    void post(const proto::ServerRecord &record, const QByteArray &signedRecord);
    QList<QByteArray> records(const std::string &modelId) const;
    void clear();

private:
    mutable std::mutex m_mutex;
    std::map<std::pair<std::string, std::string>, QByteArray> m_records;
};

class BoardRegistry : public Registry {
    Q_OBJECT
public:
    explicit BoardRegistry(std::shared_ptr<RecordBoard> board, QObject *parent = nullptr);

    QString name() const override { return QStringLiteral("local"); }
    void announce(const QByteArray &signedRecord, const proto::ServerRecord &record) override;
    void lookup(const std::string &modelId) override;

private:
    std::shared_ptr<RecordBoard> m_board;
};

} // namespace corolla
