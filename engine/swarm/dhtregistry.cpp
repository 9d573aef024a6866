#include "swarm/dhtregistry.h"

#include <opendht/dhtrunner.h>

#include "net/queuedcall.h"

namespace corolla {

namespace {

constexpr dht::ValueType::Id kRecordValueType = 0xC0A1;
constexpr int kRecordValueLifetimeSeconds = 150;

std::string modelKey(const std::string &modelId)
{
    return "corolla/" + modelId;
}

} // namespace

Result<std::pair<std::string, quint16>> parseHostPort(const std::string &text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        return makeError(ErrorCode::InvalidArgument, "'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2); // [IPv6]:port
    bool ok = false;
    const uint port = QString::fromStdString(text.substr(colon + 1)).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return makeError(ErrorCode::InvalidArgument, "'" + text + "' has no valid port");
    return std::make_pair(host, quint16(port));
}

DhtRegistry::DhtRegistry(QObject *parent) : Registry(parent) {}

Result<std::unique_ptr<DhtRegistry>> DhtRegistry::start(const DhtOptions &options, QObject *parent)
{
    for (const std::string &node : options.bootstrap)
        if (auto parsed = parseHostPort(node); !parsed)
            return makeError(ErrorCode::InvalidArgument, "DHT bootstrap node: " + parsed.error().message);
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
    try {
        registry->m_runner->run(options.port, config);
    } catch (const std::exception &error) {
        return makeError(ErrorCode::Io, "cannot start the DHT node on UDP port "
                                            + std::to_string(options.port) + ": " + error.what());
    }
    // Our values live a little longer than the longest allowed announcement period times two,
    // on the nodes that know this type; others keep them for OpenDHT's default ten minutes.
    registry->m_runner->registerType(dht::ValueType(kRecordValueType, "corolla-server-record",
                                                    std::chrono::seconds(kRecordValueLifetimeSeconds)));
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

void DhtRegistry::announce(const QByteArray &signedRecord, const proto::ServerRecord &record)
{
    const dht::Blob blob(signedRecord.begin(), signedRecord.end());
    std::vector<std::string> keys{modelKey(record.model_id())};
    for (std::int64_t block = record.start(); block < record.end(); ++block)
        keys.push_back(modelKey(record.model_id()) + "/" + std::to_string(block));
    for (const std::string &key : keys)
        m_runner->put(dht::InfoHash::get(key), dht::Value(kRecordValueType, blob));
}

void DhtRegistry::lookup(const std::string &modelId)
{
    // Values are handed over as each node answers, not when the whole search is done: a
    // search also waits for peers that left, and their timeouts should not delay what the
    // live ones already said.
    m_runner->get(dht::InfoHash::get(modelKey(modelId)),
                  [this](const std::vector<std::shared_ptr<dht::Value>> &values) {
                      QList<QByteArray> found;
                      for (const auto &value : values)
                          found.append(QByteArray(reinterpret_cast<const char *>(value->data.data()),
                                                  qsizetype(value->data.size())));
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
