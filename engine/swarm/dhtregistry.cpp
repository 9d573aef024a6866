#include "swarm/dhtregistry.h"

#include <limits>
#include <optional>

#include <opendht/dhtrunner.h>
#include <opendht/log.h>

#include <QCoreApplication>
#include <QDir>
#include <QProcessEnvironment>
#include <QRandomGenerator>
#include <QTimer>

#include "net/hostport.h"
#include "net/queuedcall.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr dht::ValueType::Id kRecordValueType = kDhtRecordValueType;
constexpr int kRecordValueLifetimeSeconds = 150;

// A failed put is tried again after this long, while it is still the newest announcement.
constexpr int kPutRetryMs = 1000;
constexpr int kMaxPutRetries = 8;

// The keys a record is published under: its model's, and each of its blocks'.
std::vector<std::string> recordKeys(const proto::ServerRecord &record)
{
    std::vector<std::string> keys{dhtModelKey(record.model_id())};
    for (std::int64_t block = record.start(); block < record.end(); ++block)
        keys.push_back(dhtModelKey(record.model_id()) + "/" + std::to_string(block));
    return keys;
}

QByteArray valueBytes(const dht::Value &value)
{
    return QByteArray(reinterpret_cast<const char *>(value.data.data()),
                      qsizetype(value.data.size()));
}

// The record a value holds, if it is genuine, alive, and stored under one of its own keys:
// a node of ours keeps nothing else, so nobody can fill a model's keys with garbage or with
// records of another model. Runs on OpenDHT's thread; verifyRecord is a pure function.
std::optional<proto::ServerRecord> storableRecord(const dht::InfoHash &key, const dht::Value &value)
{
    auto record = verifyRecord(valueBytes(value), unixTimeMs());
    if (!record)
        return std::nullopt;
    for (const std::string &own : recordKeys(*record))
        if (dht::InfoHash::get(own) == key)
            return *record;
    return std::nullopt;
}

// Each server publishes one value per key, under an id of its own, and replaces it with each
// announcement (a higher sequence number): a node stores one record per server, not one per
// announcement made in the last two and a half minutes. Only the same peer may replace its
// record, and only with a newer one.
dht::ValueType recordValueType()
{
    auto store = [](dht::InfoHash key, std::shared_ptr<dht::Value> &value, const dht::InfoHash &,
                    const dht::SockAddr &) { return storableRecord(key, *value).has_value(); };
    auto edit = [](dht::InfoHash key, const std::shared_ptr<dht::Value> &old,
                   std::shared_ptr<dht::Value> &value, const dht::InfoHash &,
                   const dht::SockAddr &) {
        const auto replacement = storableRecord(key, *value);
        proto::SignedRecord stored;
        proto::ServerRecord current;
        if (!replacement || !stored.ParseFromArray(old->data.data(), int(old->data.size()))
            || !current.ParseFromString(stored.record()))
            return replacement.has_value();
        return current.peer_id() == replacement->peer_id()
               && current.announced_at_ms() < replacement->announced_at_ms();
    };
    return dht::ValueType(kRecordValueType, "corolla-server-record",
                          std::chrono::seconds(kRecordValueLifetimeSeconds), store, edit);
}

// COROLLA_DHT_LOG=DIR: OpenDHT's own log, one file per process, for finding out why a record
// does not spread.
dht::DhtRunner::Context dhtContext()
{
    dht::DhtRunner::Context context;
    const QString folder =
        QProcessEnvironment::systemEnvironment().value(QStringLiteral("COROLLA_DHT_LOG"));
    if (!folder.isEmpty())
        context.logger = dht::log::getFileLogger(
            QDir(folder)
                .filePath(QStringLiteral("dht-%1.log").arg(QCoreApplication::applicationPid()))
                .toStdString());
    return context;
}

// The model key's first 12 bytes, then 8 of the peer's own: nearer the key than any random
// node, apart from other servers of the model.
dht::InfoHash homeNodeId(const std::string &modelId, const std::string &peerId)
{
    dht::InfoHash id = dht::InfoHash::get(dhtModelKey(modelId));
    const dht::InfoHash own = dht::InfoHash::get("corolla-node/" + peerId);
    for (std::size_t i = 12; i < id.size(); ++i)
        id[i] = own[i];
    return id;
}

} // namespace

std::string dhtModelKey(const std::string &modelId)
{
    return "corolla/" + modelId;
}

DhtRegistry::DhtRegistry(QObject *parent)
    : Registry(parent)
{
}

Result<std::unique_ptr<DhtRegistry>> DhtRegistry::start(const DhtOptions &options, QObject *parent)
{
    for (const std::string &node : options.bootstrap)
        if (auto parsed = parseHostPort(node); !parsed)
            return makeError(ErrorCode::InvalidArgument,
                             "DHT bootstrap node: " + parsed.error().message);
    auto registry = std::unique_ptr<DhtRegistry>(new DhtRegistry(parent));
    registry->m_options = options;
    registry->m_runner = std::make_unique<dht::DhtRunner>();
    dht::DhtRunner::Config config;
    config.threaded = true;
    config.dht_config.node_config.is_bootstrap = options.bootstrapMode;
    config.dht_config.node_config.public_stable = options.bootstrapMode;
    // Many peers may share one address (a LAN behind NAT, tests on 127.0.0.1): no per-IP
    // request limit, and a generous global one.
    config.dht_config.node_config.max_peer_req_per_sec = -1;
    config.dht_config.node_config.max_req_per_sec = 8192;
    if (!options.homeModelId.empty())
        config.dht_config.node_config.node_id = homeNodeId(options.homeModelId, options.homePeerId);
    try {
        registry->m_runner->run(options.port, config, dhtContext());
    } catch (const std::exception &error) {
        return makeError(ErrorCode::Io, "cannot start the DHT node on UDP port "
                                            + std::to_string(options.port) + ": " + error.what());
    }
    // Our values live a little longer than the longest allowed announcement period times two,
    // on the nodes that know this type; others keep them for OpenDHT's default ten minutes.
    registry->m_runner->registerType(recordValueType());
    registry->m_valueId = registry->newValueId();
    registry->rejoin();
    return registry;
}

DhtRegistry::~DhtRegistry()
{
    // Stops OpenDHT's thread, so no callback can run past this point; results it already
    // queued to us are dropped with this object.
    if (m_runner)
        m_runner->join();
}

quint16 DhtRegistry::boundPort() const
{
    return m_runner->getBoundPort();
}

std::vector<std::string> DhtRegistry::publicHosts() const
{
    std::vector<std::string> hosts;
    for (const dht::SockAddr &address : m_runner->getPublicAddress(AF_INET))
        if (!address.isLoopback() && !address.isPrivate())
            hosts.push_back(address.toString().substr(0, address.toString().rfind(':')));
    return hosts;
}

void DhtRegistry::rejoin()
{
    for (const std::string &node : m_options.bootstrap) {
        auto parsed = parseHostPort(node);
        m_runner->bootstrap(parsed->first, std::to_string(parsed->second));
    }
}

std::uint64_t DhtRegistry::newValueId()
{
    dht::Value::Id id = dht::Value::INVALID_ID;
    while (id == dht::Value::INVALID_ID)
        id = QRandomGenerator::system()->generate64();
    m_sequence = 0;
    return id;
}

void DhtRegistry::announce(const QByteArray &signedRecord, const proto::ServerRecord &record)
{
    // A sequence number that would wrap starts a new value: a node keeps a value whose
    // number is not below the one it has, and the old one expires on its own.
    if (m_sequence == std::numeric_limits<std::uint16_t>::max())
        m_valueId = newValueId();
    ++m_sequence;
    ++m_announcement;
    m_retries = 0;
    put(signedRecord, recordKeys(record), m_announcement);
}

void DhtRegistry::put(const QByteArray &signedRecord, const std::vector<std::string> &keys,
                      quint64 announcement)
{
    for (const std::string &key : keys) {
        auto value = std::make_shared<dht::Value>(
            kRecordValueType, dht::Blob(signedRecord.begin(), signedRecord.end()), m_valueId);
        value->seq = m_sequence;
        // A put that reached no node (the node had not joined yet, or its neighbours left)
        // is tried again soon instead of waiting for the next announcement.
        m_runner->put(dht::InfoHash::get(key), value,
                      [this, signedRecord, key, announcement](bool stored) {
                          if (!stored)
                              postTo(this, [this, signedRecord, key, announcement] {
                                  retryPut(signedRecord, key, announcement);
                              });
                      });
    }
}

void DhtRegistry::retryPut(const QByteArray &signedRecord, const std::string &key,
                           quint64 announcement)
{
    if (announcement != m_announcement || m_retries >= kMaxPutRetries)
        return;
    ++m_retries;
    QTimer::singleShot(kPutRetryMs, this, [this, signedRecord, key, announcement] {
        if (announcement == m_announcement)
            put(signedRecord, {key}, announcement);
    });
}

void DhtRegistry::lookup(const std::string &modelId)
{
    // Values are handed over as each node answers, not when the whole search is done: a
    // search also waits for peers that left, and their timeouts should not delay what the
    // live ones already said.
    m_runner->get(
        dht::InfoHash::get(dhtModelKey(modelId)),
        [this](const std::vector<std::shared_ptr<dht::Value>> &values) {
            QList<QByteArray> found;
            for (const auto &value : values)
                found.append(valueBytes(*value));
            // OpenDHT's thread: one queued hop into ours.
            postTo(this, [this, found] { deliver(found); });
            return true;
        },
        dht::DoneCallbackSimple{});
}

void DhtRegistry::deliver(const QList<QByteArray> &records)
{
    if (!records.isEmpty())
        Q_EMIT recordsFound(records);
}

} // namespace corolla
