#pragma once
// The Hub's HTTP calls, made the way huggingface_hub makes them: JSON from /api, file metadata
// from HEAD on /resolve (following relative redirects only, since the first answer of an
// LFS file carries its X-Linked-* headers), downloads that follow redirects to other hosts
// (the CDN) without sending the token there, and resume with Range.
// Thread: any thread; each call runs a local event loop and returns when it is done, so a
// HubHttp belongs to the thread that made it.

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>

#include <QByteArray>
#include <QString>
#include <QUrl>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

class QNetworkAccessManager;
class QNetworkReply;

namespace corolla {

// What a HEAD on /resolve says about one file.
struct HubFileMetadata {
    QString commit; // X-Repo-Commit
    QString etag;   // X-Linked-Etag, else ETag; without W/ and quotes
    std::int64_t size = -1;
    QUrl location; // where its bytes are (after relative redirects)
};

// A failed call: the error, and whether the Hub could not be reached at all (no network, no
// answer), in which case callers may fall back to the cache.
struct HubFailure {
    Error error;
    bool unreachable = false;
};

template <typename T> using HubResult = std::variant<T, HubFailure>;

class HubHttp {
public:
    // `what` names the repository in messages ("ORG/NAME").
    HubHttp(QString endpoint, QString token, std::stop_token stop);
    ~HubHttp();

    const QString &endpoint() const { return m_endpoint; }

    // GET {endpoint}/{path} as JSON.
    HubResult<nlohmann::json> getJson(const QString &path, const std::string &what);
    // HEAD {endpoint}/{repo}/resolve/{revision}/{file}.
    HubResult<HubFileMetadata> fileMetadata(const std::string &repo, const std::string &revision,
                                            const QString &file);

    // GET `url` from byte `offset` (a Range request when offset > 0). `restart` runs when the
    // server answers a ranged request with the whole file; `sink` receives the bytes in order.
    // Returns the bytes received. A dropped connection is an error carrying what arrived.
    struct Transfer {
        std::function<void()> restart;
        std::function<Result<void>(const QByteArray &chunk)> sink;
    };
    HubResult<std::int64_t> download(const QUrl &url, std::int64_t offset, std::int64_t size,
                                     const Transfer &transfer);

private:
    struct Exchange;
    QUrl resolveUrl(const std::string &repo, const std::string &revision,
                    const QString &file) const;
    QNetworkReply *send(const QByteArray &verb, const QUrl &url, std::int64_t offset);
    void wait(QNetworkReply *reply);

    QString m_endpoint;
    QString m_token;
    std::stop_token m_stop;
    std::unique_ptr<QNetworkAccessManager> m_network;
};

// The Hub's answer as an error: 401/403 on a gated repository, 404 naming the repository,
// revision or file (from X-Error-Code), anything else with its status and URL.
Error hubHttpError(int status, const QByteArray &errorCode, const QByteArray &errorMessage,
                   const std::string &what, const QUrl &url);

} // namespace corolla
