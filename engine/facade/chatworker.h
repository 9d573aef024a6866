#pragma once
// The chat side of the engine: the client part of a model (tokenizer, embeddings, LM head),
// a SwarmClient for the blocks, and the conversation being answered. Generation is plain
// blocking code, so it runs here, on a thread of its own, and streams its pieces out
// through queued signals; the engine and UI threads never wait for it.
// Thread: the chat thread (construct anywhere, then move).

#include <atomic>
#include <memory>

#include <QHash>
#include <QObject>
#include <QTimer>

#include "facade/enginetypes.h"
#include "model/modelconfig.h"
#include "swarm/swarmconnection.h"

namespace corolla {

class ClientHead;
class Conversation;
class SwarmClient;
class Tokenizer;

class ChatWorker : public QObject {
    Q_OBJECT
public:
    // Requests with ids up to `*cancelledUpTo` stop at their next token.
    explicit ChatWorker(std::shared_ptr<const std::atomic<quint64>> cancelledUpTo, QObject *parent = nullptr);
    ~ChatWorker() override;

    // Loads the client part of the model in `modelDir` and joins its swarm; reports through
    // configured() (a problem names what failed; none when no folder is given).
    void configure(const QString &modelDir, const SwarmConnection &connection);
    // Answers the request; pieces through chunk(), the end through finished().
    void answer(const ChatRequest &request);

Q_SIGNALS:
    void configured(bool ready, const QString &problem);
    void chunk(const corolla::ChatChunk &chunk);
    void finished(const corolla::ChatResult &result);
    // Round trips to the servers, in milliseconds by peer id.
    void pingsMeasured(const QHash<QString, double> &pingMs);

private:
    bool isCancelled(quint64 id) const { return id <= m_cancelledUpTo->load(); }
    void measurePings();
    void unload();

    std::shared_ptr<const std::atomic<quint64>> m_cancelledUpTo;
    ModelConfig m_config;
    std::unique_ptr<Tokenizer> m_tokenizer;
    std::unique_ptr<ClientHead> m_head;
    std::unique_ptr<SwarmClient> m_client;
    std::unique_ptr<Conversation> m_conversation;
    QString m_conversationId;
    quint64 m_currentRequest = 0;
    QTimer m_pingTimer;
};

} // namespace corolla
