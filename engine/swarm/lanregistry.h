#pragma once
// Zero-configuration discovery on a home network: servers multicast their signed records
// over UDP, and a newcomer's query makes everyone answer at once.
// Thread: the engine thread.

#include <limits>

#include <QHostAddress>
#include <QList>
#include <QTimer>
#include <QUdpSocket>

#include "core/result.h"
#include "swarm/registry.h"

namespace corolla {

struct LanOptions {
    QHostAddress group{QStringLiteral("239.255.67.79")};
    quint16 port = 46779;
};

class LanRegistry : public Registry {
    Q_OBJECT
public:
    static Result<std::unique_ptr<LanRegistry>> start(const LanOptions &options,
                                                      QObject *parent = nullptr);

    QString name() const override { return QStringLiteral("lan"); }
    void announce(const QByteArray &signedRecord, const proto::ServerRecord &record) override;
    void lookup(const std::string &modelId) override;

private:
    explicit LanRegistry(QObject *parent);
    void onReadyRead();
    void sendOwnRecords();

    LanOptions m_options;
    QUdpSocket m_socket;
    QList<QByteArray> m_ownRecords; // what we announce, re-sent on queries
    qint64 m_lastQueryAnswerMs = std::numeric_limits<qint64>::min() / 2; // steady clock; never
};

} // namespace corolla
