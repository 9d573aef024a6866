#pragma once
// Server records in OpenDHT, for swarms across the internet. Keys: "corolla/<ModelId>" (every
// server of the model) and "corolla/<ModelId>/<block>" (the servers of one block). Values are
// signed records. A process publishes one value per key and replaces it with each
// announcement (same value id, higher sequence number); our nodes store only genuine records
// under their own keys, and let only their peer replace them with newer ones. Readers keep the
// newest record per peer. Values live 150 s on nodes that know our value type: announcement
// periods are at most 60 s.
// Thread: the engine thread; OpenDHT's own thread hands results over with one queued call.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "swarm/registry.h"

namespace dht {
class DhtRunner;
}

namespace corolla {

// The OpenDHT value type of server records, and the key of a model's records.
constexpr std::uint16_t kDhtRecordValueType = 0xC0A1;
std::string dhtModelKey(const std::string &modelId);

struct DhtOptions {
    quint16 port = 0;                   // 0: any free UDP port
    std::vector<std::string> bootstrap; // "host:port"
    bool bootstrapMode = false;         // a long-lived node others bootstrap from
    // A server's node sits next to its model's key, at a place its peer id fixes: servers are
    // the nodes nearest the key, so a search for it asks them first, and not nodes of clients
    // that came and went. A restarted server takes its old place back. Empty: a random place.
    std::string homeModelId;
    std::string homePeerId;
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
    std::uint64_t newValueId();
    void put(const QByteArray &signedRecord, const std::vector<std::string> &keys,
             quint64 announcement);
    void retryPut(const QByteArray &signedRecord, const std::string &key, quint64 announcement);

    std::unique_ptr<dht::DhtRunner> m_runner;
    DhtOptions m_options;
    std::uint64_t m_valueId = 0;  // this process's value id under every key
    std::uint16_t m_sequence = 0; // of the newest announcement
    quint64 m_announcement = 0;   // counts announcements; a retry of an older one is dropped
    int m_retries = 0;            // of the newest announcement's puts, all keys together
};

} // namespace corolla
