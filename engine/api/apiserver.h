#pragma once
// An OpenAI-compatible HTTP API on Qt's HTTP server: /v1/models, /v1/chat/completions and
// /v1/completions (whole answers, or server-sent events with stream: true), /health, CORS,
// a bearer key, a body limit and a limit on requests at once. Each completion runs on a
// thread of its own with its own inference session; a client that disconnects stops it.
// Thread: the thread that created it (its event loop); completions run on their own threads
// and post back to it.

#include <cstdint>
#include <list>
#include <memory>

#include <QAbstractHttpServer>
#include <QByteArray>
#include <QString>

#include "api/apibackend.h"

class QTcpSocket;

namespace corolla {

struct ApiOptions {
    QString apiKey;                      // empty: no key asked for
    int maxConcurrent = 16;              // completions at once; more get 429
    std::int64_t maxBodyBytes = 4 << 20; // larger bodies get 413
};

class ApiServer : public QAbstractHttpServer {
    Q_OBJECT
public:
    ApiServer(ApiOptions options, ApiBackend &backend, QObject *parent = nullptr);
    // Stops every running completion and waits for their threads.
    ~ApiServer() override;

    // Completions running now.
    int activeRequests() const { return int(m_jobs.size()); }

Q_SIGNALS:
    void activeRequestsChanged(int activeRequests);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    struct Job;
    void startCompletion(CompletionRequest request, QTcpSocket *socket);
    void finishJob(Job *job);

    ApiOptions m_options;
    ApiBackend &m_backend;
    std::list<std::unique_ptr<Job>> m_jobs;
    std::uint64_t m_nextId = 1;
};

} // namespace corolla
