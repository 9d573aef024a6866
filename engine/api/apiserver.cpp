#include "api/apiserver.h"

#include <chrono>
#include <cstring>
#include <thread>

#include <QHttpServerRequest>
#include <QPointer>
#include <QTcpSocket>
#include <QUrl>

#include "net/queuedcall.h"

namespace corolla {

namespace {

using Json = nlohmann::ordered_json;

QByteArray reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

// Every answer may be read by a page of another origin (a local web UI, say).
const QByteArray kCorsHeaders = "Access-Control-Allow-Origin: *\r\n"
                                "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
                                "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n";

void writeResponse(QTcpSocket *socket, int status, const QByteArray &body,
                   const QByteArray &extraHeaders = {})
{
    QByteArray head = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason(status) + "\r\n";
    head += kCorsHeaders + extraHeaders;
    if (!body.isEmpty())
        head += "Content-Type: application/json\r\n";
    head += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n";
    socket->write(head + body);
}

void writeError(QTcpSocket *socket, const ApiError &error, const QByteArray &extraHeaders = {})
{
    writeResponse(socket, error.status, QByteArray::fromStdString(errorJson(error)), extraHeaders);
}

// One server-sent event as one chunk of a chunked body.
void writeEvent(QTcpSocket *socket, const std::string &data)
{
    const QByteArray event = "data: " + QByteArray::fromStdString(data) + "\n\n";
    socket->write(QByteArray::number(event.size(), 16) + "\r\n" + event + "\r\n");
}

ApiError backendError(const Error &error)
{
    if (!error.blocks.empty())
        return ApiError{503, "service_unavailable", error.message, "", "blocks_unavailable"};
    if (error.code == ErrorCode::InvalidArgument)
        return ApiError{400, "invalid_request_error", error.message, "", ""};
    if (error.code == ErrorCode::Timeout)
        return ApiError{503, "service_unavailable", error.message, "", "timeout"};
    return ApiError{500, "server_error", error.toString(), "", ""};
}

// Compares a key without an early exit, so that the time taken tells nothing of the key.
bool sameKey(const QByteArray &given, const QByteArray &expected)
{
    unsigned char difference = given.size() == expected.size() ? 0 : 1;
    for (qsizetype i = 0; i < given.size(); ++i)
        difference |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
    return difference == 0;
}

std::int64_t unixSeconds()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

struct ApiServer::Job {
    CompletionRequest request;
    QPointer<QTcpSocket> socket;
    std::string id;
    std::int64_t created = 0;
    std::stop_source stop;
    std::string text;         // the whole answer, for a response that is not streamed
    bool headersSent = false; // of a stream: sent with its first piece
    QMetaObject::Connection disconnected;
    std::thread thread;
};

ApiServer::ApiServer(ApiOptions options, ApiBackend &backend, QObject *parent)
    : QAbstractHttpServer(parent)
    , m_options(std::move(options))
    , m_backend(backend)
{
}

ApiServer::~ApiServer()
{
    for (auto &job : m_jobs)
        job->stop.request_stop();
    for (auto &job : m_jobs)
        if (job->thread.joinable())
            job->thread.join();
}

void ApiServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    writeError(socket,
               {404, "invalid_request_error",
                "Unknown request URL: " + request.url().path().toStdString(), "", "unknown_url"});
}

bool ApiServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    using Method = QHttpServerRequest::Method;
    const QString path = request.url().path();
    const Method method = request.method();
    if (method == Method::Options) { // a CORS preflight
        writeResponse(socket, 204, {});
        return true;
    }

    enum class Route { Health, Models, Model, Chat, Completions, Unknown };
    Route route = Route::Unknown;
    Method allowed = Method::Get;
    if (path == QLatin1String("/health"))
        route = Route::Health;
    else if (path == QLatin1String("/v1/models"))
        route = Route::Models;
    else if (path.startsWith(QLatin1String("/v1/models/")))
        route = Route::Model;
    else if (path == QLatin1String("/v1/chat/completions"))
        route = Route::Chat, allowed = Method::Post;
    else if (path == QLatin1String("/v1/completions"))
        route = Route::Completions, allowed = Method::Post;
    if (route == Route::Unknown) {
        missingHandler(request, socket);
        return true;
    }
    if (method != allowed) {
        const QByteArray allow = allowed == Method::Post ? "POST" : "GET";
        writeError(socket,
                   {405, "invalid_request_error",
                    path.toStdString() + " takes " + allow.toStdString() + " requests", "",
                    "method_not_allowed"},
                   "Allow: " + allow + ", OPTIONS\r\n");
        return true;
    }
    if (route == Route::Health) {
        const Json health{{"status", "ok"},
                          {"model", m_backend.modelId()},
                          {"active_requests", activeRequests()}};
        writeResponse(
            socket, 200,
            QByteArray::fromStdString(health.dump(-1, ' ', false, Json::error_handler_t::replace)));
        return true;
    }
    if (!m_options.apiKey.isEmpty()) {
        const QByteArray authorization = request.value("Authorization");
        if (authorization.isEmpty()) {
            writeError(socket, {401, "invalid_request_error",
                                "You didn't provide an API key: send Authorization: Bearer KEY", "",
                                "missing_api_key"});
            return true;
        }
        if (!sameKey(authorization, "Bearer " + m_options.apiKey.toUtf8())) {
            writeError(socket, {401, "invalid_request_error", "Incorrect API key provided", "",
                                "invalid_api_key"});
            return true;
        }
    }
    if (request.body().size() > m_options.maxBodyBytes) {
        writeError(socket, {413, "invalid_request_error",
                            "the body holds " + std::to_string(request.body().size())
                                + " bytes; the limit is " + std::to_string(m_options.maxBodyBytes),
                            "", "request_too_large"});
        return true;
    }

    const Json model{{"id", m_backend.modelId()},
                     {"object", "model"},
                     {"created", m_backend.created()},
                     {"owned_by", "corolla"}};
    if (route == Route::Models) {
        const Json list{{"object", "list"}, {"data", Json::array({model})}};
        writeResponse(
            socket, 200,
            QByteArray::fromStdString(list.dump(-1, ' ', false, Json::error_handler_t::replace)));
        return true;
    }
    if (route == Route::Model) {
        const QString id = path.mid(int(std::strlen("/v1/models/")));
        if (id.toStdString() != m_backend.modelId())
            writeError(socket, {404, "invalid_request_error",
                                "The model '" + id.toStdString() + "' does not exist", "model",
                                "model_not_found"});
        else
            writeResponse(socket, 200,
                          QByteArray::fromStdString(
                              model.dump(-1, ' ', false, Json::error_handler_t::replace)));
        return true;
    }

    const CompletionKind kind = route == Route::Chat ? CompletionKind::Chat : CompletionKind::Text;
    auto parsed = parseCompletionRequest(kind, request.body().toStdString());
    if (auto *error = std::get_if<ApiError>(&parsed)) {
        writeError(socket, *error);
        return true;
    }
    CompletionRequest completion = std::get<CompletionRequest>(std::move(parsed));
    if (completion.model != m_backend.modelId()) {
        writeError(socket, {404, "invalid_request_error",
                            "The model '" + completion.model
                                + "' does not exist; this server "
                                  "has '"
                                + m_backend.modelId() + "'",
                            "model", "model_not_found"});
        return true;
    }
    if (activeRequests() >= m_options.maxConcurrent) {
        writeError(socket,
                   {429, "rate_limit_exceeded",
                    "this server runs " + std::to_string(m_options.maxConcurrent)
                        + " completions at once; try again when one is done",
                    "", "rate_limit_exceeded"},
                   "Retry-After: 1\r\n");
        return true;
    }
    startCompletion(std::move(completion), socket);
    return true;
}

void ApiServer::startCompletion(CompletionRequest request, QTcpSocket *socket)
{
    auto owned = std::make_unique<Job>();
    Job *job = owned.get();
    job->request = std::move(request);
    job->socket = socket;
    // A streamed token is a few dozen bytes: send each at once, not when the next is due.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    job->created = unixSeconds();
    job->id = (job->request.kind == CompletionKind::Chat ? "chatcmpl-" : "cmpl-")
              + std::to_string(job->created) + "-" + std::to_string(m_nextId++);
    // A client that goes away stops its completion at the next token.
    job->disconnected =
        connect(socket, &QTcpSocket::disconnected, this, [job] { job->stop.request_stop(); });
    m_jobs.push_back(std::move(owned));
    Q_EMIT activeRequestsChanged(activeRequests());

    const bool chat = job->request.kind == CompletionKind::Chat;
    auto chunk = [this, job, chat](const Json &choice) {
        return Json{{"id", job->id},
                    {"object", chat ? "chat.completion.chunk" : "text_completion"},
                    {"created", job->created},
                    {"model", m_backend.modelId()},
                    {"choices", Json::array({choice})}}
            .dump(-1, ' ', false, Json::error_handler_t::replace);
    };
    auto sendHeaders = [job, chat, chunk] {
        if (job->headersSent || !job->socket)
            return;
        job->headersSent = true;
        job->socket->write("HTTP/1.1 200 OK\r\n" + kCorsHeaders
                           + "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n");
        if (chat)
            writeEvent(job->socket, chunk({{"index", 0},
                                           {"delta", {{"role", "assistant"}, {"content", ""}}},
                                           {"logprobs", nullptr},
                                           {"finish_reason", nullptr}}));
    };

    auto onPiece = [job, chat, chunk, sendHeaders](const std::string &piece) {
        if (!job->request.stream) {
            job->text += piece;
            return;
        }
        sendHeaders();
        if (!job->socket || piece.empty())
            return;
        writeEvent(job->socket, chunk(chat ? Json{{"index", 0},
                                                  {"delta", {{"content", piece}}},
                                                  {"logprobs", nullptr},
                                                  {"finish_reason", nullptr}}
                                           : Json{{"index", 0},
                                                  {"text", piece},
                                                  {"logprobs", nullptr},
                                                  {"finish_reason", nullptr}}));
    };

    auto onDone = [this, job, chat, chunk, sendHeaders](Result<CompletionResult> result) {
        QTcpSocket *socket = job->socket;
        if (socket && !result && result.error().code != ErrorCode::Cancelled) {
            const ApiError error = backendError(result.error());
            if (job->headersSent) { // mid-stream: the error as an event, as OpenAI sends it
                writeEvent(socket, errorJson(error));
                writeEvent(socket, "[DONE]");
                socket->write("0\r\n\r\n");
            } else {
                writeError(socket, error);
            }
        } else if (socket && result) {
            const char *finish = result->length ? "length" : "stop";
            const Json usage{{"prompt_tokens", result->promptTokens},
                             {"completion_tokens", result->completionTokens},
                             {"total_tokens", result->promptTokens + result->completionTokens}};
            if (job->request.stream) {
                sendHeaders();
                writeEvent(socket, chunk(chat ? Json{{"index", 0},
                                                     {"delta", Json::object()},
                                                     {"logprobs", nullptr},
                                                     {"finish_reason", finish}}
                                              : Json{{"index", 0},
                                                     {"text", ""},
                                                     {"logprobs", nullptr},
                                                     {"finish_reason", finish}}));
                if (job->request.includeUsage)
                    writeEvent(socket,
                               Json{{"id", job->id},
                                    {"object", chat ? "chat.completion.chunk" : "text_completion"},
                                    {"created", job->created},
                                    {"model", m_backend.modelId()},
                                    {"choices", Json::array()},
                                    {"usage", usage}}
                                   .dump(-1, ' ', false, Json::error_handler_t::replace));
                writeEvent(socket, "[DONE]");
                socket->write("0\r\n\r\n");
            } else {
                const Json choice =
                    chat ? Json{{"index", 0},
                                {"message", {{"role", "assistant"}, {"content", job->text}}},
                                {"logprobs", nullptr},
                                {"finish_reason", finish}}
                         : Json{{"index", 0},
                                {"text", job->text},
                                {"logprobs", nullptr},
                                {"finish_reason", finish}};
                const Json body{{"id", job->id},
                                {"object", chat ? "chat.completion" : "text_completion"},
                                {"created", job->created},
                                {"model", m_backend.modelId()},
                                {"choices", Json::array({choice})},
                                {"usage", usage}};
                writeResponse(socket, 200,
                              QByteArray::fromStdString(
                                  body.dump(-1, ' ', false, Json::error_handler_t::replace)));
            }
        }
        finishJob(job);
    };

    job->thread = std::thread([this, job, onPiece, onDone] {
        const std::stop_token stop = job->stop.get_token();
        auto result = m_backend.complete(
            job->request,
            [this, onPiece, &stop](const std::string &piece) {
                if (stop.stop_requested())
                    return false;
                postTo(this, [onPiece, piece] { onPiece(piece); });
                return true;
            },
            stop);
        postTo(this, [onDone, result = std::move(result)]() mutable { onDone(std::move(result)); });
    });
}

void ApiServer::finishJob(Job *job)
{
    for (auto it = m_jobs.begin(); it != m_jobs.end(); ++it) {
        if (it->get() != job)
            continue;
        disconnect(job->disconnected);
        if (job->thread.joinable())
            job->thread.join(); // it has posted its last work: it is ending
        m_jobs.erase(it);
        Q_EMIT activeRequestsChanged(activeRequests());
        return;
    }
}

} // namespace corolla
