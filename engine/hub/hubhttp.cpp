#include "hub/hubhttp.h"

#include <vector>

#include <nlohmann/json.hpp>

#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>

namespace corolla {

namespace {

constexpr int kMaxRedirects = 10;
constexpr int kMetadataTimeoutMs = 20000;
constexpr int kTransferTimeoutMs = 60000; // without a byte arriving
constexpr int kStopPollMs = 100;
constexpr qint64 kReadChunk = 4 << 20;
constexpr qint64 kReplyBuffer = 16 << 20; // bounds what waits for us in Qt's buffers

int statusOf(QNetworkReply *reply)
{
    return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
}

bool isRedirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool sameOrigin(const QUrl &a, const QUrl &b)
{
    return a.scheme() == b.scheme() && a.host().compare(b.host(), Qt::CaseInsensitive) == 0
           && a.port(a.scheme() == QLatin1String("https") ? 443 : 80)
                  == b.port(b.scheme() == QLatin1String("https") ? 443 : 80);
}

QString normalizedEtag(QByteArray etag)
{
    etag = etag.trimmed();
    if (etag.startsWith("W/"))
        etag = etag.mid(2);
    if (etag.size() >= 2 && etag.startsWith('"') && etag.endsWith('"'))
        etag = etag.mid(1, etag.size() - 2);
    return QString::fromLatin1(etag);
}

// Errors of the network itself, as opposed to an answer: the Hub may be down or the machine
// offline, and the cache can stand in.
bool isUnreachable(QNetworkReply::NetworkError error)
{
    switch (error) {
    case QNetworkReply::ConnectionRefusedError:
    case QNetworkReply::HostNotFoundError:
    case QNetworkReply::TimeoutError:
    case QNetworkReply::OperationCanceledError: // a transfer timeout
    case QNetworkReply::TemporaryNetworkFailureError:
    case QNetworkReply::NetworkSessionFailedError:
    case QNetworkReply::UnknownNetworkError:
    case QNetworkReply::ProxyConnectionRefusedError:
    case QNetworkReply::ProxyNotFoundError:
    case QNetworkReply::ProxyTimeoutError: return true;
    default: return false;
    }
}

std::optional<std::int64_t> headerSize(const QByteArray &value)
{
    bool ok = false;
    const qint64 size = value.trimmed().toLongLong(&ok);
    if (!ok || size < 0)
        return std::nullopt;
    return size;
}

} // namespace

Error hubHttpError(int status, const QByteArray &errorCode, const QByteArray &errorMessage,
                   const std::string &what, const QUrl &url)
{
    const std::string page = "its page on the Hub";
    const std::string detail =
        errorMessage.isEmpty() ? std::string() : " (" + errorMessage.toStdString() + ")";
    if (errorCode == "GatedRepo" || ((status == 401 || status == 403) && errorCode.isEmpty()))
        return makeError(ErrorCode::PermissionDenied,
                         what + " is gated: accept its licence on " + page
                             + ", then set HF_TOKEN (or $HF_HOME/token) to an access token of "
                               "that account"
                             + detail);
    if (errorCode == "RepoNotFound")
        return makeError(ErrorCode::NotFound,
                         "repository " + what + " not found on the Hub"
                             + (status == 401 ? " (or it is private: set HF_TOKEN)" : "") + detail);
    if (errorCode == "RevisionNotFound")
        return makeError(ErrorCode::NotFound, "revision not found: " + what + detail);
    if (errorCode == "EntryNotFound")
        return makeError(ErrorCode::NotFound, "file not found: " + what + detail);
    if (status == 404)
        return makeError(ErrorCode::NotFound, what + ": not found (HTTP 404 from "
                                                  + url.toString().toStdString() + ")" + detail);
    if (status == 401 || status == 403)
        return makeError(ErrorCode::PermissionDenied,
                         what + ": the Hub refused access (HTTP " + std::to_string(status)
                             + "); set HF_TOKEN to a token with access" + detail);
    return makeError(ErrorCode::Io, what + ": HTTP " + std::to_string(status) + " from "
                                        + url.toString().toStdString() + detail);
}

HubHttp::HubHttp(QString endpoint, QString token, std::stop_token stop)
    : m_endpoint(std::move(endpoint))
    , m_token(std::move(token))
    , m_stop(std::move(stop))
    , m_network(std::make_unique<QNetworkAccessManager>())
{
}

HubHttp::~HubHttp() = default;

QUrl HubHttp::resolveUrl(const std::string &repo, const std::string &revision,
                         const QString &file) const
{
    QString path = QString::fromStdString(repo) + QStringLiteral("/resolve/")
                   + QString::fromUtf8(QUrl::toPercentEncoding(QString::fromStdString(revision)))
                   + QLatin1Char('/') + QString::fromUtf8(QUrl::toPercentEncoding(file, "/"));
    return QUrl(m_endpoint + QLatin1Char('/') + path, QUrl::StrictMode);
}

QNetworkReply *HubHttp::send(const QByteArray &verb, const QUrl &url, std::int64_t offset)
{
    QNetworkRequest request(url);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute,
                         QNetworkRequest::ManualRedirectPolicy);
    request.setAttribute(QNetworkRequest::Http2AllowedAttribute, true);
    request.setTransferTimeout(verb == "GET" && offset >= 0 ? kTransferTimeoutMs
                                                            : kMetadataTimeoutMs);
    request.setRawHeader("User-Agent", "corolla/" COROLLA_HUB_VERSION);
    // The real sizes, never a compressed body.
    request.setRawHeader("Accept-Encoding", "identity");
    // The token goes to the Hub only, never to the CDN a download is redirected to.
    if (!m_token.isEmpty() && sameOrigin(url, QUrl(m_endpoint)))
        request.setRawHeader("Authorization", "Bearer " + m_token.toUtf8());
    if (offset > 0)
        request.setRawHeader("Range", "bytes=" + QByteArray::number(qint64(offset)) + "-");
    QNetworkReply *reply = verb == "HEAD" ? m_network->head(request) : m_network->get(request);
    reply->setReadBufferSize(kReplyBuffer);
    return reply;
}

void HubHttp::wait(QNetworkReply *reply)
{
    if (reply->isFinished())
        return;
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer stopPoll;
    QObject::connect(&stopPoll, &QTimer::timeout, reply, [this, reply] {
        if (m_stop.stop_requested())
            reply->abort();
    });
    stopPoll.start(kStopPollMs);
    loop.exec();
}

namespace {

HubFailure failureOf(QNetworkReply *reply, const std::string &what, bool stopped)
{
    if (stopped)
        return {makeError(ErrorCode::Cancelled, what + ": cancelled"), false};
    const int status = statusOf(reply);
    if (status == 0)
        return {makeError(ErrorCode::Io, "cannot reach " + reply->url().host().toStdString()
                                             + " for " + what + ": "
                                             + reply->errorString().toStdString()),
                isUnreachable(reply->error())};
    const QByteArray body = reply->isOpen() ? reply->read(4096) : QByteArray();
    QByteArray message = reply->rawHeader("X-Error-Message");
    if (message.isEmpty()) {
        const auto json = nlohmann::json::parse(body.toStdString(), nullptr, false);
        if (json.is_object() && json.contains("error") && json["error"].is_string())
            message = QByteArray::fromStdString(json["error"].get<std::string>());
    }
    return {hubHttpError(status, reply->rawHeader("X-Error-Code"), message, what, reply->url()),
            false};
}

} // namespace

HubResult<nlohmann::json> HubHttp::getJson(const QString &path, const std::string &what)
{
    QUrl url(m_endpoint + QLatin1Char('/') + path);
    for (int redirect = 0; redirect <= kMaxRedirects; ++redirect) {
        std::unique_ptr<QNetworkReply> reply(send("GET", url, -1));
        wait(reply.get());
        const int status = statusOf(reply.get());
        if (isRedirect(status)) {
            url = url.resolved(QUrl(QString::fromUtf8(reply->rawHeader("Location"))));
            continue;
        }
        if (reply->error() != QNetworkReply::NoError || status != 200)
            return failureOf(reply.get(), what, m_stop.stop_requested());
        auto json = nlohmann::json::parse(reply->readAll().toStdString(), nullptr, false);
        if (json.is_discarded() || !json.is_object())
            return HubFailure{
                makeError(ErrorCode::Format,
                          url.toString().toStdString() + ": the answer is not a JSON object"),
                false};
        return json;
    }
    return HubFailure{makeError(ErrorCode::Io, what + ": too many redirects"), false};
}

HubResult<HubFileMetadata> HubHttp::fileMetadata(const std::string &repo,
                                                 const std::string &revision, const QString &file)
{
    const std::string what = repo + "@" + revision + ": " + file.toStdString();
    QUrl url = resolveUrl(repo, revision, file);
    for (int redirect = 0; redirect <= kMaxRedirects; ++redirect) {
        std::unique_ptr<QNetworkReply> reply(send("HEAD", url, -1));
        wait(reply.get());
        const int status = statusOf(reply.get());
        const QByteArray linkedEtag = reply->rawHeader("X-Linked-Etag");
        if (isRedirect(status)) {
            const QUrl next = url.resolved(QUrl(QString::fromUtf8(reply->rawHeader("Location"))));
            // A relative redirect (a renamed repository) is followed; a redirect to another
            // host is where an LFS file's bytes are, and this answer already describes them.
            if (sameOrigin(next, url) || (linkedEtag.isEmpty() && !reply->hasRawHeader("ETag"))) {
                url = next;
                continue;
            }
            HubFileMetadata metadata;
            metadata.commit = QString::fromLatin1(reply->rawHeader("X-Repo-Commit"));
            metadata.etag =
                normalizedEtag(linkedEtag.isEmpty() ? reply->rawHeader("ETag") : linkedEtag);
            metadata.size = headerSize(reply->rawHeader("X-Linked-Size")).value_or(-1);
            metadata.location = next;
            return metadata;
        }
        if (reply->error() != QNetworkReply::NoError || status != 200)
            return failureOf(reply.get(), what, m_stop.stop_requested());
        HubFileMetadata metadata;
        metadata.commit = QString::fromLatin1(reply->rawHeader("X-Repo-Commit"));
        metadata.etag =
            normalizedEtag(linkedEtag.isEmpty() ? reply->rawHeader("ETag") : linkedEtag);
        const QByteArray linkedSize = reply->rawHeader("X-Linked-Size");
        metadata.size =
            headerSize(linkedSize.isEmpty() ? reply->rawHeader("Content-Length") : linkedSize)
                .value_or(-1);
        metadata.location = url;
        return metadata;
    }
    return HubFailure{makeError(ErrorCode::Io, what + ": too many redirects"), false};
}

HubResult<std::int64_t> HubHttp::download(const QUrl &start, std::int64_t offset, std::int64_t size,
                                          const Transfer &transfer)
{
    const std::string what = start.toString(QUrl::RemoveQuery).toStdString();
    QUrl url = start;
    for (int redirect = 0; redirect <= kMaxRedirects; ++redirect) {
        std::unique_ptr<QNetworkReply> reply(send("GET", url, offset));
        std::int64_t received = 0;
        std::optional<Error> failure;
        bool accepted = false; // a 200 or 206 whose bytes we take
        std::int64_t base = 0; // the file offset of the answer's first byte
        auto drain = [&] {
            if (failure)
                return;
            if (!accepted) {
                const int status = statusOf(reply.get());
                if (status == 206) {
                    const QByteArray range = reply->rawHeader("Content-Range");
                    const QByteArray expected = "bytes " + QByteArray::number(qint64(offset)) + "-";
                    base = offset;
                    if (!range.startsWith(expected)) {
                        failure =
                            makeError(ErrorCode::Format,
                                      what + ": asked for bytes from " + std::to_string(offset)
                                          + ", the server sent '" + range.toStdString() + "'");
                        reply->abort();
                        return;
                    }
                } else if (status == 200) {
                    if (offset > 0 && transfer.restart)
                        transfer.restart(); // the server ignored Range: start over
                } else {
                    return; // a redirect or an error: its body is not the file
                }
                accepted = true;
            }
            while (reply->bytesAvailable() > 0) {
                // A fresh array per read: the sink may keep it (a hash thread does).
                const QByteArray chunk = reply->read(kReadChunk);
                if (chunk.isEmpty())
                    break;
                received += chunk.size();
                if (size >= 0 && base + received > size) {
                    failure = makeError(ErrorCode::Format, what + ": the server sent more than the "
                                                               + std::to_string(size)
                                                               + " bytes the Hub announced");
                    reply->abort();
                    return;
                }
                if (auto written = transfer.sink(chunk); !written) {
                    failure = written.error();
                    reply->abort();
                    return;
                }
            }
        };
        QObject::connect(reply.get(), &QNetworkReply::readyRead, reply.get(), drain);
        wait(reply.get());
        drain();
        if (failure)
            return HubFailure{*failure, false};
        const int status = statusOf(reply.get());
        if (isRedirect(status)) {
            url = url.resolved(QUrl(QString::fromUtf8(reply->rawHeader("Location"))));
            continue;
        }
        if (!accepted || reply->error() != QNetworkReply::NoError) {
            if (accepted && !m_stop.stop_requested())
                return HubFailure{
                    makeError(ErrorCode::Io, what + ": the connection broke after "
                                                 + std::to_string(received)
                                                 + " bytes: " + reply->errorString().toStdString()),
                    received == 0 && isUnreachable(reply->error())};
            return failureOf(reply.get(), what, m_stop.stop_requested());
        }
        // A connection closed before the announced end reads as a finished answer to Qt.
        if (size >= 0 && base + received < size)
            return HubFailure{makeError(ErrorCode::Io, what + ": the connection broke after "
                                                           + std::to_string(received)
                                                           + " bytes (the answer ended early)"),
                              false};
        return received;
    }
    return HubFailure{makeError(ErrorCode::Io, what + ": too many redirects"), false};
}

} // namespace corolla
