#pragma once
// A whole serving peer, what `corolla serve` and the app's "Donate my GPU" run: the swarm
// registries, block choice, loading the chosen span, the block server, periodic
// announcements and re-balancing.
// Thread: the engine thread; loading and probing run on the server's compute queue.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <QObject>
#include <QTimer>

#include "core/compute.h"
#include "core/result.h"
#include "model/modelconfig.h"
#include "net/identity.h"
#include "model/placement.h"
#include "server/blockserver.h"
#include "server/throughputprobe.h"
#include "swarm/swarmwatcher.h"

namespace corolla {

class BlockSpan;

struct ServeOptions {
    std::string modelDir;
    std::optional<std::pair<std::int64_t, std::int64_t>> blocks; // nullopt: choose (auto)
    std::int64_t memoryBudgetBytes = 0;                          // 0: half the RAM
    std::int64_t blockCount = 0; // with automatic placement, at most this many (0: what fits)
    ComputeDtype dtype = ComputeDtype::BFloat16;
    Quantization quantization = Quantization::None;  // of the blocks' projections
    ComputeDevice device;                            // where the blocks compute
    ComputeBackend backend = ComputeBackend::Native; // how (the GPU always takes generic)
    QString listenAddress = QStringLiteral("0.0.0.0");
    quint16 port = 0;
    std::vector<std::string> announceAddresses; // empty: this machine's addresses
    std::string publicName;
    int announcePeriodMs = 30000;
    int rebalancePeriodMs = 120000;
    std::string throughputCachePath; // empty: no cache
    ServerLimits limits;
    // Brings the weights of blocks [begin, end) into modelDir before they are loaded (a Hub
    // model fetches its shards); runs on the compute queue. Empty: they are all there.
    std::function<Result<void>(std::int64_t begin, std::int64_t end)> fetchBlocks;
    // LoRA adapters served with the blocks: the name requests use, and the adapter's folder
    // (adapter_config.json, adapter_model.safetensors). Loaded for every span served.
    std::vector<std::pair<std::string, std::string>> adapters;
};

class ServerNode : public QObject {
    Q_OBJECT
public:
    // `watcher` carries the registries; the node publishes through it.
    ServerNode(ServeOptions options, PeerIdentity identity, std::unique_ptr<SwarmWatcher> watcher,
               QObject *parent = nullptr);
    ~ServerNode() override;

    // Listens and begins joining; errors that stop the node come through failed().
    Result<void> start();
    // Announces that this server is leaving.
    void stop();

    const PeerIdentity &identity() const { return m_identity; }
    const std::string &modelId() const { return m_watcher->modelId(); }
    SwarmWatcher &watcher() { return *m_watcher; }
    BlockServer *server() const { return m_server.get(); }
    quint16 port() const;
    // The served span, [-1, -1) before one is loaded.
    std::pair<std::int64_t, std::int64_t> span() const { return {m_begin, m_end}; }
    bool isOnline() const { return m_phase == Phase::Online; }

Q_SIGNALS:
    void log(const QString &message);
    void online(qint64 begin, qint64 end);
    void failed(const QString &message);

private:
    // Idle until a span is chosen; Loading (announced as joining) until its weights are in,
    // again when it moves; Failed when they could not be loaded; Stopped for good.
    enum class Phase { Idle, Loading, Online, Failed, Stopped };

    void chooseAndLoad();
    // The memory the blocks may take: --memory-budget, else half the RAM on the CPU and the
    // free memory less a reserve on a GPU.
    Result<std::int64_t> memoryBudget() const;
    void load(std::int64_t begin, std::int64_t end);
    void onLoaded(std::int64_t begin, std::int64_t end, Result<std::shared_ptr<BlockSpan>> span,
                  BlockServer::Adapters adapters, BlockThroughput throughput);
    void announce();
    void scheduleBalanceCheck();
    void checkBalance();
    void logActivity();
    proto::ServerRecord makeRecord() const;
    std::vector<std::string> addresses() const;

    ServeOptions m_options;
    PeerIdentity m_identity;
    std::unique_ptr<SwarmWatcher> m_watcher;
    ModelConfig m_config;
    Placement m_placement; // the device option, resolved by start()
    std::unique_ptr<BlockServer> m_server;
    std::int64_t m_spanLength = 0;
    std::int64_t m_begin = -1, m_end = -1;
    Phase m_phase = Phase::Idle;
    BlockThroughput m_throughput;
    QTimer m_announceTimer;
    QTimer m_balanceTimer;
    QTimer m_activityTimer;
    std::int64_t m_loggedTokens = 0;
};

} // namespace corolla
