#pragma once
// Server records in OpenDHT, for swarms across the internet. Keys: "corolla/<ModelId>" (every
// server of the model) and "corolla/<ModelId>/<block>" (the servers of one block). Values are
// signed records; a new announcement is a new value, and readers keep the newest per peer.
// Values live 150 s on nodes that know our value type: announcement periods are at most 60 s.
// Thread: the engine thread; OpenDHT's own thread hands results over with one queued call.

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "swarm/registry.h"

namespace dht {
class DhtRunner;
}

namespace corolla {

struct DhtOptions {
    quint16 port = 0;                      // 0: any free UDP port
    std::vector<std::string> bootstrap;    // "host:port"
    bool bootstrapMode = false;            // a long-lived node others bootstrap from
};

class DhtRegistry : public Registry {
    Q_OBJECT
public:
    static Result<std::unique_ptr<DhtRegistry>> start(const DhtOptions &options,
                                                      QObject *parent = nullptr);
    ~DhtRegistry() override;

    QString name() const override { return QStringLiteral("dht"); }
    void announce(const QByteArray &signedRecord, const proto::ServerRecord &record) override;
    void lookup(const std::string &modelId) override;
    std::vector<std::string> publicHosts() const override;

    quint16 boundPort() const;
    // Bootstraps again from the configured nodes (after a network change, say).
    void rejoin();

private:
    explicit DhtRegistry(QObject *parent);
    void deliver(const QList<QByteArray> &records);

    std::unique_ptr<dht::DhtRunner> m_runner;
    DhtOptions m_options;
};

// "host:port" -> (host, port); an error that says what is wrong otherwise.
Result<std::pair<std::string, quint16>> parseHostPort(const std::string &text);

} // namespace corolla
