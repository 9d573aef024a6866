#pragma once
// Where server records are published and found. Each registry hands back the signed bytes
// it found; SwarmWatcher verifies them, so a registry never has to trust anyone.
// Thread: the engine thread.

#include <string>
#include <vector>

#include <QByteArray>
#include <QList>
#include <QObject>

#include "net/corolla.pb.h"

namespace corolla {

class Registry : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;

    virtual QString name() const = 0;
    // Publishes a signed record (`record` is its content, for choosing keys).
    virtual void announce(const QByteArray &signedRecord, const proto::ServerRecord &record) = 0;
    // Looks for the records of a model; results arrive through recordsFound.
    virtual void lookup(const std::string &modelId) = 0;
    // This machine's public addresses as other peers see them, where the registry learns
    // them (behind NAT, the router's address).
    virtual std::vector<std::string> publicHosts() const { return {}; }

Q_SIGNALS:
    void recordsFound(const QList<QByteArray> &signedRecords);
    // Something went wrong that the user should know of (a bootstrap node unreachable...).
    void problem(const QString &message);
};

} // namespace corolla
