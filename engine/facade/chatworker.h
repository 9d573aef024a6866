#pragma once
// The chat side of the engine: the client part of a model (tokenizer, embeddings, LM head),
// a SwarmClient for the blocks, and the conversation being answered. Generation is plain
// blocking code, so it runs here, on a thread of its own, and streams its pieces out
// through queued signals; the engine and UI threads never wait for it.
// Thread: the chat thread (construct anywhere, then move).

#include <memory>
#include <stop_token>

#include <QHash>
#include <QObject>
#include <QTimer>

#include "facade/enginetypes.h"
#include "swarm/swarmconnection.h"

namespace corolla {

class Conversation;
struct ClientModel;

class ChatWorker : public QObject {
    Q_OBJECT
public:
    explicit ChatWorker(QObject *parent = nullptr);
    ~ChatWorker() override;

    // Loads the client part of the model in `modelDir` and joins its swarm; reports through
    // configured() (a problem names what failed; none when no folder is given).
    void configure(const QString &modelDir, const SwarmConnection &connection);
    // Answers the request; pieces through chunk(), the end through finished(). Once `stop`
    // is requested the answer ends at its next token, or at once while it waits for a server.
    void answer(const ChatRequest &request, const std::stop_token &stop);

Q_SIGNALS:
    void configured(bool ready, const QString &problem);
    void chunk(const corolla::ChatChunk &chunk);
    void finished(const corolla::ChatResult &result);
    // Round trips to the servers, in milliseconds by peer id.
    void pingsMeasured(const QHash<QString, double> &pingMs);

private:
    void measurePings();
    void unload();

    std::unique_ptr<ClientModel> m_model;
    std::unique_ptr<Conversation> m_conversation;
    QString m_conversationId;
    QTimer m_pingTimer;
};

} // namespace corolla
