#include "facade/chatworker.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "client/conversation.h"
#include "client/remotesession.h"
#include "client/swarmclient.h"
#include "facade/clientmodel.h"
#include "client/routeplanner.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr int kPingPeriodMs = 5000;
constexpr int kPingTimeoutMs = 1500;
constexpr int kCoverageWaitMs = 3000; // for servers of a swarm joined a moment ago
constexpr int kRouteTimeoutMs = 5000;
constexpr std::int64_t kMaxConversationTokens = 2048;

QString fromStd(const std::string &text)
{
    return QString::fromStdString(text);
}

GenerationOptions generationOptions(const SamplingSettings &sampling)
{
    GenerationOptions options;
    options.maxNewTokens = std::max(1, sampling.maxTokens);
    options.sampling.temperature = std::max(0.0, sampling.temperature);
    options.sampling.topP = std::clamp(sampling.topP, 0.0, 1.0);
    options.sampling.topK = std::max(0, sampling.topK);
    options.sampling.seed = std::uint64_t(std::max<qint64>(0, sampling.seed));
    return options;
}

nlohmann::ordered_json messagesJson(const QList<ChatMessage> &messages)
{
    nlohmann::ordered_json json = nlohmann::ordered_json::array();
    for (const ChatMessage &message : messages)
        json.push_back({{"role", chatRoleName(message.role).toStdString()},
                        {"content", message.content.toStdString()}});
    return json;
}

// Blocks that no online server holds.
std::vector<std::int64_t> missingBlocks(const std::vector<proto::ServerRecord> &servers,
                                        std::int64_t numBlocks)
{
    std::vector<ServerCandidate> online;
    for (const proto::ServerRecord &server : servers) {
        if (server.state() == proto::STATE_ONLINE)
            online.push_back({server.peer_id(), server.start(), server.end()});
    }
    return uncoveredBlocks(online, 0, numBlocks);
}

QList<RouteHopInfo> routeOf(const BlockRunner *runner)
{
    QList<RouteHopInfo> route;
    if (const auto *session = dynamic_cast<const RemoteSession *>(runner)) {
        for (const RemoteSession::Hop &hop : session->route())
            route.push_back({hop.span.start, hop.span.end, fromStd(hop.server.peer_id()),
                             fromStd(hop.server.public_name())});
    }
    return route;
}

} // namespace

ChatWorker::ChatWorker(QObject *parent)
    : QObject(parent)
    , m_pingTimer(this)
{
    m_pingTimer.setInterval(kPingPeriodMs);
    connect(&m_pingTimer, &QTimer::timeout, this, &ChatWorker::measurePings);
}

ChatWorker::~ChatWorker()
{
    unload();
}

void ChatWorker::unload()
{
    m_pingTimer.stop();
    m_conversation.reset();
    m_model.reset();
    m_conversationId.clear();
}

void ChatWorker::configure(const QString &modelDir, const SwarmConnection &connection)
{
    unload();
    if (modelDir.isEmpty()) {
        Q_EMIT configured(false, {});
        return;
    }
    auto model = ClientModel::open(modelDir, connection);
    if (!model) {
        Q_EMIT configured(false, fromStd(model.error().toString()));
        return;
    }
    m_model = std::move(*model);
    m_pingTimer.start();
    Q_EMIT configured(true, {});
}

void ChatWorker::measurePings()
{
    if (!m_model)
        return;
    SwarmClient &client = *m_model->client;
    const std::vector<proto::ServerRecord> servers = client.servers();
    client.measureRtts(servers, kPingTimeoutMs);
    QHash<QString, double> pings;
    for (const proto::ServerRecord &server : servers) {
        const double rtt = client.rttMs(server.peer_id());
        if (rtt >= 0)
            pings.insert(fromStd(server.peer_id()), rtt);
    }
    Q_EMIT pingsMeasured(pings);
}

void ChatWorker::answer(const ChatRequest &request, const std::stop_token &stop)
{
    ChatResult result;
    result.id = request.id;
    auto finish = [&](ChatError error, const QString &message) {
        result.error = error;
        result.message = message;
        Q_EMIT finished(result);
    };
    if (stop.stop_requested()) {
        result.stoppedByUser = true;
        return finish(ChatError::None, {});
    }
    if (!m_model)
        return finish(ChatError::NoModel, {});

    SwarmClient &client = *m_model->client;
    const std::int64_t numBlocks = m_model->config.numLayers;
    // The predicate runs under the client's lock: it looks at the records it is given only.
    auto covered = [numBlocks](const std::vector<proto::ServerRecord> &servers) {
        return missingBlocks(servers, numBlocks).empty();
    };
    if (!client.waitForServers(covered, kCoverageWaitMs)) {
        result.missingBlocks = fromStd(blockListText(missingBlocks(client.servers(), numBlocks)));
        return finish(ChatError::MissingBlocks, {});
    }

    if (!m_conversation || request.conversationId != m_conversationId) {
        auto conversation =
            Conversation::create(*m_model->tokenizer, *m_model->head, m_model->config.eosTokenIds,
                                 m_model->runners(kRouteTimeoutMs), kMaxConversationTokens);
        if (!conversation)
            return finish(ChatError::Failed, fromStd(conversation.error().toString()));
        m_conversation = std::move(*conversation);
        m_conversationId = request.conversationId;
    }

    using Clock = std::chrono::steady_clock;
    const Clock::time_point started = Clock::now();
    Clock::time_point firstToken;
    bool sawToken = false;
    std::string shown;
    std::int64_t tokens = 0;
    // The stop token reaches every wait for a server, not only the steps between tokens.
    GenerationOptions options = generationOptions(request.sampling);
    options.stop = stop;
    auto turn = m_conversation->answer(messagesJson(request.messages), options, {},
                                       [&](const std::string &piece) {
                                           if (!sawToken) {
                                               sawToken = true;
                                               firstToken = Clock::now();
                                               result.route = routeOf(m_conversation->runner());
                                           }
                                           shown += piece;
                                           ++tokens;
                                           if (!piece.empty())
                                               Q_EMIT chunk({request.id, fromStd(piece)});
                                           if (stop.stop_requested()) {
                                               result.stoppedByUser = true;
                                               return false;
                                           }
                                           return true;
                                       });
    if (!turn && turn.error().code == ErrorCode::Cancelled) {
        result.stoppedByUser = true;
        result.answer = fromStd(shown);
        result.generatedTokens = tokens;
        return finish(ChatError::None, {});
    }
    if (!turn && !turn.error().blocks.empty()) {
        // No server left for these blocks: one left mid-answer without a spare, or the
        // coverage check above read its record before it expired.
        result.missingBlocks = fromStd(blockListText(turn.error().blocks));
        return finish(ChatError::MissingBlocks, fromStd(turn.error().message));
    }
    if (!turn)
        return finish(ChatError::Failed, fromStd(turn.error().toString()));

    const Clock::time_point ended = Clock::now();
    result.answer = fromStd(turn->answer);
    result.promptTokens = turn->newPromptTokens + turn->reusedTokens;
    result.generatedTokens = turn->stats.generatedTokens;
    // Stop may land between two steps, after the last token was shown: still the user's stop.
    if (turn->stats.stopped && stop.stop_requested())
        result.stoppedByUser = true;
    if (sawToken) {
        result.timeToFirstTokenSeconds =
            std::chrono::duration<double>(firstToken - started).count();
        const double decodeSeconds = std::chrono::duration<double>(ended - firstToken).count();
        if (result.generatedTokens > 1 && decodeSeconds > 0)
            result.tokensPerSecond = double(result.generatedTokens - 1) / decodeSeconds;
    }
    if (m_conversation->runner()) // still the same sequence: the route after any failover
        result.route = routeOf(m_conversation->runner());
    finish(ChatError::None, {});
}

} // namespace corolla
