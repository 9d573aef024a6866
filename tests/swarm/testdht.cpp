// Server records in a real OpenDHT network on 127.0.0.1: a server's announcements replace its
// value instead of piling up, and our nodes keep nothing a hostile peer puts beside or over
// them (garbage, records under keys they do not belong to, another peer's or an older record
// put over a server's value).

#include <atomic>
#include <mutex>
#include <set>

#include <opendht/dhtrunner.h>

#include <QtTest>

#include "net/identity.h"
#include "swarm/dhtregistry.h"
#include "swarm/serverrecord.h"
#include "tools/peerprocesses.h"
#include "tools/samplerecord.h"

using namespace corolla;

namespace {

constexpr int kDhtTimeoutMs = 30000;

// Runs the event loop until `done` holds or timeoutMs have passed; whether it holds.
template <typename Predicate> bool waitFor(Predicate done, int timeoutMs = kDhtTimeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    while (!done() && timer.elapsed() < timeoutMs)
        QTest::qWait(20);
    return done();
}

proto::ServerRecord recordAt(const PeerIdentity &identity, std::int64_t announcedAtMs)
{
    return sampleServerRecord(identity.peerId(), announcedAtMs);
}

// A plain OpenDHT node, as a hostile peer would run one: it puts whatever it likes.
class RawNode {
public:
    explicit RawNode(quint16 bootstrapPort)
    {
        dht::DhtRunner::Config config;
        config.threaded = true;
        config.dht_config.node_config.max_peer_req_per_sec = -1;
        m_runner.run(0, config);
        m_runner.bootstrap("127.0.0.1", std::to_string(bootstrapPort));
    }
    ~RawNode() { m_runner.join(); }

    // Puts `bytes` under `key` with the given value id and sequence number; whether a node
    // answered.
    bool put(const std::string &key, const QByteArray &bytes, std::uint64_t id, std::uint16_t seq)
    {
        auto value =
            std::make_shared<dht::Value>(kDhtRecordValueType, dht::Blob(bytes.begin(), bytes.end()),
                                         id == 0 ? dht::Value::INVALID_ID : id);
        value->seq = seq;
        std::atomic<int> done{0};
        m_runner.put(dht::InfoHash::get(key), value, [&done](bool ok) { done = ok ? 1 : -1; });
        return waitFor([&done] { return done != 0; }) && done == 1;
    }

    // The value ids stored under `key`.
    std::set<std::uint64_t> valueIds(const std::string &key)
    {
        std::set<std::uint64_t> ids;
        std::atomic<bool> done{false};
        std::mutex mutex;
        m_runner.get(
            dht::InfoHash::get(key),
            [&](const std::vector<std::shared_ptr<dht::Value>> &values) {
                std::lock_guard lock(mutex);
                for (const auto &value : values)
                    ids.insert(value->id);
                return true;
            },
            [&done](bool) { done = true; });
        if (!waitFor([&done] { return done.load(); }))
            qWarning("a get did not finish");
        std::lock_guard lock(mutex);
        return ids;
    }

private:
    dht::DhtRunner m_runner;
};

} // namespace

class TestDht : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_port = freeUdpPort();
        auto bootstrap = DhtRegistry::start({m_port, {}, true});
        QVERIFY2(bootstrap, bootstrap ? "" : bootstrap.error().message.c_str());
        m_bootstrap = std::move(*bootstrap);
        const std::vector<std::string> entry{"127.0.0.1:" + std::to_string(m_port)};
        auto server = DhtRegistry::start({0, entry, false});
        auto reader = DhtRegistry::start({0, entry, false});
        QVERIFY(server && reader);
        m_server = std::move(*server);
        m_reader = std::move(*reader);
        m_found.clear();
        connect(m_reader.get(), &Registry::recordsFound, this,
                [this](const QList<QByteArray> &records) {
                    m_found.insert(records.begin(), records.end());
                });
    }

    void cleanup()
    {
        m_reader.reset();
        m_server.reset();
        m_bootstrap.reset();
    }

    void announcementsReplaceTheServersValue()
    {
        const PeerIdentity identity = *PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        QByteArray newest;
        for (int i = 0; i < 5; ++i) {
            const proto::ServerRecord record = recordAt(identity, now + i);
            newest = signRecord(record, identity);
            m_server->announce(newest, record);
        }
        const std::string modelId = recordAt(identity, now).model_id();
        QTRY_VERIFY_WITH_TIMEOUT((m_reader->lookup(modelId), m_found.count(newest)), kDhtTimeoutMs);
        // One value per key, where every announcement as its own value would leave five.
        RawNode observer(m_port);
        QCOMPARE(observer.valueIds(dhtModelKey(modelId)).size(), std::size_t(1));
        QCOMPARE(observer.valueIds(dhtModelKey(modelId) + "/3").size(), std::size_t(1));
    }

    void nodesKeepNothingAHostilePeerPuts()
    {
        const PeerIdentity server = *PeerIdentity::generate();
        const PeerIdentity hostile = *PeerIdentity::generate();
        const std::int64_t now = unixTimeMs();
        const proto::ServerRecord genuine = recordAt(server, now);
        const std::string key = dhtModelKey(genuine.model_id());
        const QByteArray genuineBytes = signRecord(genuine, server);
        const QByteArray olderBytes = signRecord(recordAt(server, now - 1000), server);

        m_server->announce(genuineBytes, genuine);
        QTRY_VERIFY_WITH_TIMEOUT(
            (m_reader->lookup(genuine.model_id()), m_found.count(genuineBytes)), kDhtTimeoutMs);
        std::set<QByteArray> forged;
        {
            RawNode attacker(m_port);
            const std::set<std::uint64_t> ids = attacker.valueIds(key);
            QCOMPARE(ids.size(), std::size_t(1));
            const std::uint64_t serverValue = *ids.begin();

            // Garbage, and a genuine record of another model, under this model's key.
            const QByteArray garbage("not a record at all");
            proto::ServerRecord otherModel = recordAt(hostile, now);
            otherModel.set_model_id("tiny@fedcba9876543210");
            const QByteArray otherModelBytes = signRecord(otherModel, hostile);
            QVERIFY(attacker.put(key, garbage, 0, 0));
            QVERIFY(attacker.put(key, otherModelBytes, 0, 0));
            // A genuine record of this model under a block key outside its span.
            const QByteArray outsideSpan = signRecord(recordAt(hostile, now), hostile);
            QVERIFY(attacker.put(key + "/7", outsideSpan, 0, 0));
            // Over the server's value: another peer's record, and the server's own older one.
            const QByteArray hijack = signRecord(recordAt(hostile, now + 5000), hostile);
            QVERIFY(attacker.put(key, hijack, serverValue, 60000));
            QVERIFY(attacker.put(key, olderBytes, serverValue, 60001));
            forged = {garbage, otherModelBytes, outsideSpan, hijack, olderBytes};
        } // the attacker's node leaves: what it said lives on only where others stored it

        // The puts above were answered, so every node has judged them by now.
        m_found.clear();
        RawNode observer(m_port);
        QCOMPARE(observer.valueIds(key + "/7").size(), std::size_t(0));
        QTRY_VERIFY_WITH_TIMEOUT(
            (m_reader->lookup(genuine.model_id()), m_found.count(genuineBytes)), kDhtTimeoutMs);
        for (int lookups = 0; lookups < 5; ++lookups) {
            m_reader->lookup(genuine.model_id());
            QTest::qWait(200);
        }
        for (const QByteArray &bytes : forged)
            QVERIFY2(!m_found.count(bytes), bytes.left(40).toHex().constData());
        QCOMPARE(m_found, std::set<QByteArray>{genuineBytes});
    }

private:
    quint16 m_port = 0;
    std::unique_ptr<DhtRegistry> m_bootstrap, m_server, m_reader;
    std::set<QByteArray> m_found; // every distinct record the reader was handed
};

QTEST_GUILESS_MAIN(TestDht)
#include "testdht.moc"
