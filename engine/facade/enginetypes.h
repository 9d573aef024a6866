#pragma once
// The values that cross between the user interface and the engine: settings going in,
// snapshots and chat pieces coming out. Plain copyable types, never engine pointers.
// Thread: any (copied across threads by queued signals).

#include <optional>

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include "core/compute.h"

namespace corolla {

// Where the swarm is found and who this peer is in it.
struct SwarmSettings {
    QString modelDir;         // checkpoint folder: the client part and blocks to serve
    QStringList dhtBootstrap; // "host:port" of OpenDHT nodes
    bool lan = true;          // multicast discovery on the local network
    QString staticPeers;      // "host:port [peer-id]" lines
    quint16 port = 0;         // the block server's TCP port (0: any free one)
    QString publicName;
    QString identityPath; // empty: the data folder's identity.pem

    bool operator==(const SwarmSettings &) const = default;
};

// What "Donate my GPU" serves with.
struct DonateSettings {
    ComputeDevice device;
    qint64 memoryBudgetBytes = 0; // 0: half the RAM
    int blockCount = 0;           // 0: as many as the budget holds, placed automatically
    ComputeDtype dtype = ComputeDtype::BFloat16;
    Quantization quantization = Quantization::None; // of the served blocks' weights

    bool operator==(const DonateSettings &) const = default;
};

enum class ServingState { Off, Starting, Online, Failed };

// What a peer's newest record says of it; sorted in this order.
enum class PeerState { Online, Joining, Offline };

struct PeerInfo {
    QString peerId;
    QString publicName;
    QString version;
    PeerState state = PeerState::Offline;
    qint64 start = 0;
    qint64 end = 0;
    double throughput = 0; // announced tokens/s
    QString dtype;         // compute dtype: fp32 or bf16
    QString quantization;  // of its blocks' weights: none, int8 or nf4
    QStringList adapters;  // the LoRA adapters it serves with its blocks
    qint64 cacheTokensLeft = 0;
    double pingMs = -1; // negative until measured
    bool isThisMachine = false;
};

struct BlockInfo {
    int servers = 0;
    double throughput = 0; // summed over the servers of the block, tokens/s
    bool servedHere = false;
};

struct ContributionStatus {
    ServingState state = ServingState::Off;
    QString message; // what went wrong, when Failed
    qint64 start = -1;
    qint64 end = -1;
    qint64 tokensServed = 0;
    qint64 requests = 0;
    qint64 sessionsOpen = 0;
    qint64 bytesIn = 0;
    qint64 bytesOut = 0;
    qint64 uptimeSeconds = 0;
    double tokensPerSecond = 0; // served over the last status period
    double load = 0;            // compute jobs waiting, per status period
    quint16 port = 0;
};

struct EngineStatus {
    QString modelId;
    QString modelName; // the model folder's name
    qint64 numBlocks = 0;
    bool demoSwarm = false;
    QString swarmProblem;        // the last registry or configuration problem
    QList<PeerInfo> peers;       // ordered by span start
    QList<BlockInfo> blocks;     // one per block of the model
    QList<qint64> missingBlocks; // blocks no online server holds
    double swarmThroughput = 0;  // tokens/s of the slowest block: what the swarm can serve
    bool chatReady = false;      // the client part is loaded
    QString chatProblem;         // why it is not
    ContributionStatus contribution;
};

enum class ChatRole { System, User, Assistant };

// "system", "user", "assistant": the names chat templates and saved conversations use.
QString chatRoleName(ChatRole role);
std::optional<ChatRole> chatRoleFromName(const QString &name);

struct ChatMessage {
    ChatRole role = ChatRole::User;
    QString content;
};

struct SamplingSettings {
    double temperature = 0.7;
    double topP = 0.9;
    int topK = 40;
    int maxTokens = 256;
    qint64 seed = 0;
};

struct ChatRequest {
    quint64 id = 0;
    QString conversationId;      // answers of one conversation reuse its caches
    QList<ChatMessage> messages; // system prompt first if any, the user's message last
    SamplingSettings sampling;
};

struct ChatChunk {
    quint64 id = 0;
    QString text;
};

struct RouteHopInfo {
    qint64 start = 0;
    qint64 end = 0;
    QString peerId;
    QString publicName;
};

enum class ChatError { None, NoModel, MissingBlocks, Failed };

struct ChatResult {
    quint64 id = 0;
    ChatError error = ChatError::None;
    QString message;       // the error, or empty
    QString missingBlocks; // "3-5, 9" when the swarm lacks blocks
    bool stoppedByUser = false;
    QString answer;
    qint64 promptTokens = 0;
    qint64 generatedTokens = 0;
    double timeToFirstTokenSeconds = 0;
    double tokensPerSecond = 0;
    QList<RouteHopInfo> route;
};

enum class DownloadState { Running, Done, Failed, Cancelled };

// A model download from the Hub, as it goes.
struct DownloadStatus {
    QString repo; // ORG/NAME[@REVISION]
    DownloadState state = DownloadState::Running;
    QString file;
    int fileIndex = 0;
    int fileCount = 0;
    qint64 fileBytes = 0;
    qint64 fileSize = 0;
    qint64 bytes = 0; // of the files being fetched now
    qint64 totalBytes = 0;
    double bytesPerSecond = 0;
    QString folder;  // the snapshot folder, when done
    QString message; // why it failed, or the last note (waiting, resuming, offline)
};

// The app's OpenAI-compatible API server, on 127.0.0.1 (`corolla api` serves elsewhere).
struct ApiSettings {
    bool enabled = false;
    quint16 port = 8080;
    QString key; // empty: clients need none

    bool operator==(const ApiSettings &) const = default;
};

enum class ApiState { Off, Starting, Listening, Failed };
// Why the API server failed: no model chosen, its port held by another program, or the model
// could not be loaded (the message says why).
enum class ApiProblem { None, NoModel, PortTaken, ModelFailed };

struct ApiStatus {
    ApiState state = ApiState::Off;
    QString url;     // "http://127.0.0.1:8080/v1" while listening
    QString modelId; // the name clients pass as "model"
    quint16 port = 0;
    ApiProblem problem = ApiProblem::None;
    QString message; // the engine's English error with ModelFailed
    int activeRequests = 0;
};

// Registers the types above for queued connections; call once before connecting.
void registerEngineTypes();

// The first characters of a peer id, as the engine shows them everywhere.
QString shortPeerId(const QString &peerId);

} // namespace corolla

Q_DECLARE_METATYPE(corolla::EngineStatus)
Q_DECLARE_METATYPE(corolla::ChatRequest)
Q_DECLARE_METATYPE(corolla::ChatChunk)
Q_DECLARE_METATYPE(corolla::ChatResult)
Q_DECLARE_METATYPE(corolla::SwarmSettings)
Q_DECLARE_METATYPE(corolla::DonateSettings)
Q_DECLARE_METATYPE(corolla::DownloadStatus)
Q_DECLARE_METATYPE(corolla::ApiSettings)
Q_DECLARE_METATYPE(corolla::ApiStatus)
