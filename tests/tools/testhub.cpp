// corolla-testhub: a Hugging Face Hub for tests and benchmarks, on 127.0.0.1. It answers as
// the real one does: the model API with siblings and sha, /resolve with X-Repo-Commit, ETag,
// X-Linked-Etag and X-Linked-Size, LFS files (.safetensors) redirected to a second server
// (the "CDN", another origin) that serves Range requests, gated repositories (401 without
// the token) and 404s with X-Error-Code. Faults for the unhappy paths are set at run time:
//   POST /_admin/fault {"file": NAME, "drop_after": BYTES, "times": N, "corrupt": true,
//                       "ignore_range": true, "rate": BYTES_PER_S, "missing": true,
//                       "announce_size": BYTES}
//   POST /_admin/clear      GET /_admin/stats
//
//   corolla-testhub --repo ORG/NAME=DIR ... [--synthetic ORG/NAME=BYTES] [--gated ORG/NAME]
//                   [--token TOKEN]
// prints "hub URL" and "cdn URL" on stdout, then serves until killed.

#include <cstdio>
#include <functional>
#include <map>
#include <memory>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTimer>
#include <QUrl>
#include <QUrlQuery>

#include "tools/hubfiles.h"

using corolla::testing::HubFile;
using corolla::testing::readRepo;
using corolla::testing::Repo;
using corolla::testing::writeSynthetic;

namespace {

constexpr qint64 kChunk = 1 << 20;
constexpr qint64 kMaxQueued = 4 << 20;

struct Fault {
    qint64 dropAfter = -1;
    int times = 0; // answers the drop applies to
    bool corrupt = false;
    bool ignoreRange = false;
    qint64 rate = 0; // bytes per second, 0: as fast as possible
    bool missing = false;
    qint64 announceSize = -1; // a size to claim in X-Linked-Size instead of the real one
};

struct Request {
    QByteArray method;
    QString path;
    std::map<QByteArray, QByteArray> headers; // lower-case names
    QByteArray body;
};

class Hub : public QObject {
public:
    std::map<QString, Repo> repos;
    std::map<QString, Fault> faults;
    QString token;
    QTcpServer hubServer, cdnServer;
    std::map<QString, int> gets, heads;
    int cdnAuthorizations = 0;
    QJsonArray ranges; // every Range header the CDN saw, with its file

    QString hubUrl() const
    {
        return QStringLiteral("http://127.0.0.1:%1").arg(hubServer.serverPort());
    }
    QString cdnUrl() const
    {
        return QStringLiteral("http://127.0.0.1:%1").arg(cdnServer.serverPort());
    }

    void addRepo(const QString &name, const QString &folder, bool gated)
    {
        repos[name] = readRepo(folder, gated);
    }

    void serve(QTcpServer &server, bool cdn)
    {
        connect(&server, &QTcpServer::newConnection, this, [this, &server, cdn] {
            while (QTcpSocket *socket = server.nextPendingConnection())
                accept(socket, cdn);
        });
    }

private:
    struct Connection {
        QByteArray input;
        bool busy = false;
    };

    void accept(QTcpSocket *socket, bool cdn)
    {
        auto state = std::make_shared<Connection>();
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        connect(socket, &QTcpSocket::readyRead, this, [this, socket, state, cdn] {
            state->input += socket->readAll();
            if (state->busy)
                return;
            const qsizetype end = state->input.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            Request request;
            const QList<QByteArray> lines = state->input.left(end).split('\n');
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            request.method = first.value(0);
            request.path = QUrl::fromPercentEncoding(first.value(1));
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const qsizetype colon = lines[i].indexOf(':');
                if (colon > 0)
                    request.headers[lines[i].left(colon).trimmed().toLower()] =
                        lines[i].mid(colon + 1).trimmed();
            }
            const qint64 length = request.headers.count("content-length")
                                      ? request.headers["content-length"].toLongLong()
                                      : 0;
            if (state->input.size() < end + 4 + length)
                return;
            request.body = state->input.mid(end + 4, length);
            state->input.remove(0, end + 4 + length);
            state->busy = true;
            auto done = [socket, state] {
                state->busy = false;
                if (!state->input.isEmpty())
                    Q_EMIT socket->readyRead();
            };
            if (cdn)
                answerCdn(socket, request, done);
            else
                answerHub(socket, request, done);
        });
    }

    static void reply(QTcpSocket *socket, int status, const QByteArray &reason,
                      QList<QPair<QByteArray, QByteArray>> headers, const QByteArray &body,
                      bool head = false)
    {
        QByteArray text = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\n";
        headers.append({"Content-Length", QByteArray::number(body.size())});
        for (const auto &[name, value] : headers)
            text += name + ": " + value + "\r\n";
        text += "\r\n";
        if (!head)
            text += body;
        socket->write(text);
    }

    static void error(QTcpSocket *socket, int status, const QByteArray &code,
                      const QByteArray &message, bool head)
    {
        const QByteArray body =
            QJsonDocument(QJsonObject{{QStringLiteral("error"), QString::fromUtf8(message)}})
                .toJson(QJsonDocument::Compact);
        reply(socket, status, status == 404 ? "Not Found" : "Unauthorized",
              {{"Content-Type", "application/json"},
               {"X-Error-Code", code},
               {"X-Error-Message", message}},
              body, head);
    }

    // Finds ORG/NAME at the start of `path`; checks the token of a gated one.
    Repo *findRepo(QTcpSocket *socket, const Request &request, const QString &name, bool head)
    {
        const auto it = repos.find(name);
        if (it == repos.end()) {
            error(socket, 404, "RepoNotFound", "Repository not found", head);
            return nullptr;
        }
        if (it->second.gated) {
            const auto auth = request.headers.find("authorization");
            if (auth == request.headers.end() || auth->second != "Bearer " + token.toUtf8()) {
                error(socket, 401, "GatedRepo",
                      "Access to model " + name.toUtf8() + " is restricted", head);
                return nullptr;
            }
        }
        return &it->second;
    }

    void answerHub(QTcpSocket *socket, const Request &request, const std::function<void()> &done)
    {
        const bool head = request.method == "HEAD";
        const QStringList parts =
            QUrl(request.path).path().split(QLatin1Char('/'), Qt::SkipEmptyParts);
        if (request.path.startsWith(QLatin1String("/_admin/"))) {
            admin(socket, request);
        } else if (parts.size() >= 6 && parts[0] == QLatin1String("api")
                   && parts[1] == QLatin1String("models")
                   && parts[4] == QLatin1String("revision")) {
            const QString name = parts[2] + QLatin1Char('/') + parts[3];
            if (Repo *repo = findRepo(socket, request, name, head)) {
                const QString revision = parts.mid(5).join(QLatin1Char('/'));
                if (revision != QLatin1String("main") && revision != repo->commit) {
                    error(socket, 404, "RevisionNotFound", "Invalid rev id: " + revision.toUtf8(),
                          head);
                } else {
                    QJsonArray siblings;
                    for (const auto &[file, entry] : repo->files)
                        siblings.append(QJsonObject{{QStringLiteral("rfilename"), file}});
                    const QJsonObject info{{QStringLiteral("id"), name},
                                           {QStringLiteral("sha"), repo->commit},
                                           {QStringLiteral("siblings"), siblings}};
                    reply(socket, 200, "OK", {{"Content-Type", "application/json"}},
                          QJsonDocument(info).toJson(QJsonDocument::Compact), head);
                }
            }
        } else if (parts.size() >= 6 && parts[0] == QLatin1String("api")
                   && parts[1] == QLatin1String("models") && parts[4] == QLatin1String("tree")) {
            // The listing huggingface_hub's snapshot_download reads (recursive, one page).
            const QString name = parts[2] + QLatin1Char('/') + parts[3];
            if (Repo *repo = findRepo(socket, request, name, head)) {
                QJsonArray tree;
                for (const auto &[file, entry] : repo->files) {
                    QJsonObject item{{QStringLiteral("type"), QStringLiteral("file")},
                                     {QStringLiteral("path"), file},
                                     {QStringLiteral("size"), entry.size},
                                     {QStringLiteral("oid"), QString::fromLatin1(entry.etag)}};
                    if (entry.lfs)
                        item[QStringLiteral("lfs")] =
                            QJsonObject{{QStringLiteral("oid"), QString::fromLatin1(entry.etag)},
                                        {QStringLiteral("size"), entry.size},
                                        {QStringLiteral("pointerSize"), 134}};
                    tree.append(item);
                }
                reply(socket, 200, "OK", {{"Content-Type", "application/json"}},
                      QJsonDocument(tree).toJson(QJsonDocument::Compact), head);
            }
        } else if (parts.size() >= 5 && parts[2] == QLatin1String("resolve")) {
            const QString name = parts[0] + QLatin1Char('/') + parts[1];
            if (Repo *repo = findRepo(socket, request, name, head)) {
                const QString revision = parts[3];
                const QString file = parts.mid(4).join(QLatin1Char('/'));
                (head ? heads : gets)[file]++;
                const auto entry = repo->files.find(file);
                if (revision != QLatin1String("main") && revision != repo->commit) {
                    error(socket, 404, "RevisionNotFound", "Invalid rev id", head);
                } else if (entry == repo->files.end() || faults[file].missing) {
                    error(socket, 404, "EntryNotFound", file.toUtf8() + " does not exist", head);
                } else if (entry->second.lfs) {
                    // As the Hub: the answer of an LFS file points at the CDN and describes it.
                    reply(socket, 302, "Found",
                          {{"Location", cdnUrl().toUtf8() + "/blobs/" + entry->second.etag
                                            + "?file=" + QUrl::toPercentEncoding(file)},
                           {"X-Repo-Commit", repo->commit.toLatin1()},
                           {"X-Linked-Etag", '"' + entry->second.etag + '"'},
                           {"X-Linked-Size", QByteArray::number(faults[file].announceSize >= 0
                                                                    ? faults[file].announceSize
                                                                    : entry->second.size)},
                           {"ETag", "W/\"redirect-" + entry->second.etag.left(8) + '"'}},
                          {}, head);
                } else {
                    sendFile(socket, request, entry->second, file, repo->commit.toLatin1(), head,
                             done);
                    return;
                }
            }
        } else {
            error(socket, 404, "EntryNotFound", "no such route", head);
        }
        done();
    }

    void answerCdn(QTcpSocket *socket, const Request &request, const std::function<void()> &done)
    {
        if (request.headers.count("authorization"))
            ++cdnAuthorizations; // a token must never leave the Hub
        const QUrl url(request.path);
        const QString etag = url.path().section(QLatin1Char('/'), -1);
        const QString file = QUrlQuery(url).queryItemValue(QStringLiteral("file"));
        for (const auto &[name, repo] : repos)
            for (const auto &[path, entry] : repo.files)
                if (entry.etag == etag.toLatin1()) {
                    if (request.method == "GET")
                        gets[QStringLiteral("cdn:") + path]++;
                    sendFile(socket, request, entry, path, {}, request.method == "HEAD", done);
                    return;
                }
        error(socket, 404, "EntryNotFound", "no such blob", false);
        done();
    }

    void sendFile(QTcpSocket *socket, const Request &request, const HubFile &entry,
                  const QString &name, const QByteArray &commit, bool head,
                  const std::function<void()> &done);

    void admin(QTcpSocket *socket, const Request &request)
    {
        if (request.path == QLatin1String("/_admin/fault")) {
            const QJsonObject json = QJsonDocument::fromJson(request.body).object();
            Fault fault;
            fault.dropAfter = qint64(json.value(QStringLiteral("drop_after")).toDouble(-1));
            fault.times = json.value(QStringLiteral("times")).toInt(fault.dropAfter >= 0 ? 1 : 0);
            fault.corrupt = json.value(QStringLiteral("corrupt")).toBool();
            fault.ignoreRange = json.value(QStringLiteral("ignore_range")).toBool();
            fault.rate = qint64(json.value(QStringLiteral("rate")).toDouble(0));
            fault.missing = json.value(QStringLiteral("missing")).toBool();
            fault.announceSize = qint64(json.value(QStringLiteral("announce_size")).toDouble(-1));
            faults[json.value(QStringLiteral("file")).toString()] = fault;
        } else if (request.path == QLatin1String("/_admin/clear")) {
            faults.clear();
            gets.clear();
            heads.clear();
            ranges = {};
            cdnAuthorizations = 0;
        }
        QJsonObject getCounts, headCounts;
        for (const auto &[file, count] : gets)
            getCounts[file] = count;
        for (const auto &[file, count] : heads)
            headCounts[file] = count;
        const QJsonObject stats{{QStringLiteral("get"), getCounts},
                                {QStringLiteral("head"), headCounts},
                                {QStringLiteral("ranges"), ranges},
                                {QStringLiteral("cdn_authorizations"), cdnAuthorizations}};
        reply(socket, 200, "OK", {{"Content-Type", "application/json"}},
              QJsonDocument(stats).toJson(QJsonDocument::Compact));
    }
};

} // namespace

namespace {

void Hub::sendFile(QTcpSocket *socket, const Request &request, const HubFile &entry,
                   const QString &name, const QByteArray &commit, bool head,
                   const std::function<void()> &done)
{
    Fault &fault = faults[name];
    qint64 start = 0;
    bool ranged = false;
    if (const auto range = request.headers.find("range"); range != request.headers.end()) {
        ranges.append(QJsonObject{{QStringLiteral("file"), name},
                                  {QStringLiteral("range"), QString::fromLatin1(range->second)}});
        if (!fault.ignoreRange && range->second.startsWith("bytes=")) {
            start = range->second.mid(6).split('-').value(0).toLongLong();
            ranged = true;
        }
    }
    if (ranged && start >= entry.size) {
        reply(socket, 416, "Range Not Satisfiable",
              {{"Content-Range", "bytes */" + QByteArray::number(entry.size)}}, {}, head);
        done();
        return;
    }
    QByteArray text = ranged ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n";
    text += "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n";
    text += "ETag: \"" + entry.etag + "\"\r\n";
    if (!commit.isEmpty())
        text += "X-Repo-Commit: " + commit + "\r\n";
    if (ranged)
        text += "Content-Range: bytes " + QByteArray::number(start) + '-'
                + QByteArray::number(entry.size - 1) + '/' + QByteArray::number(entry.size)
                + "\r\n";
    text += "Content-Length: " + QByteArray::number(entry.size - start) + "\r\n\r\n";
    socket->write(text);
    if (head) {
        done();
        return;
    }

    struct Stream {
        QFile file;
        qint64 position = 0;
        qint64 end = 0;
        qint64 sent = 0;
        qint64 dropAt = -1;
        qint64 corruptAt = -1;
        qint64 rate = 0;
        QElapsedTimer clock;
        QMetaObject::Connection pump;
        bool waiting = false;
    };
    auto stream = std::make_shared<Stream>();
    stream->file.setFileName(entry.path);
    stream->file.open(QIODevice::ReadOnly);
    stream->file.seek(start);
    stream->position = start;
    stream->end = entry.size;
    if (fault.times > 0 && fault.dropAfter >= 0) {
        --fault.times;
        stream->dropAt = fault.dropAfter;
    }
    stream->corruptAt = fault.corrupt ? entry.size / 2 : -1;
    stream->rate = fault.rate;
    stream->clock.start();
    auto pump = std::make_shared<std::function<void()>>();
    *pump = [socket, stream, done, pump] {
        stream->waiting = false;
        while (socket->bytesToWrite() < kMaxQueued && stream->position < stream->end) {
            qint64 n = std::min(kChunk, stream->end - stream->position);
            if (stream->rate > 0) {
                const qint64 allowed = stream->rate * stream->clock.elapsed() / 1000 - stream->sent;
                if (allowed <= 0) {
                    stream->waiting = true;
                    QTimer::singleShot(20, socket, [pump] { (*pump)(); });
                    return;
                }
                n = std::min(n, allowed);
            }
            if (stream->dropAt >= 0) {
                n = std::min(n, stream->dropAt - stream->sent);
                if (n <= 0) { // the connection breaks mid-file, after what was promised
                    QObject::disconnect(stream->pump);
                    socket->disconnectFromHost();
                    return;
                }
            }
            QByteArray data = stream->file.read(n);
            if (stream->corruptAt >= stream->position
                && stream->corruptAt < stream->position + data.size())
                data[stream->corruptAt - stream->position] ^= 0x5a;
            socket->write(data);
            stream->position += data.size();
            stream->sent += data.size();
        }
        if (stream->position >= stream->end && stream->pump) {
            QObject::disconnect(stream->pump);
            stream->pump = {};
            done();
        }
    };
    stream->pump = QObject::connect(socket, &QTcpSocket::bytesWritten, socket, [stream, pump] {
        if (!stream->waiting)
            (*pump)();
    });
    (*pump)();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addOption({QStringLiteral("repo"), QStringLiteral("ORG/NAME=DIR"), QStringLiteral("r")});
    parser.addOption(
        {QStringLiteral("synthetic"), QStringLiteral("ORG/NAME=BYTES"), QStringLiteral("s")});
    parser.addOption({QStringLiteral("gated"), QStringLiteral("ORG/NAME"), QStringLiteral("g")});
    parser.addOption({QStringLiteral("token"), QStringLiteral("TOKEN"), QStringLiteral("t")});
    parser.process(app);

    Hub hub;
    hub.token = parser.value(QStringLiteral("token"));
    const QStringList gated = parser.values(QStringLiteral("gated"));
    for (const QString &spec : parser.values(QStringLiteral("repo"))) {
        const QString name = spec.section(QLatin1Char('='), 0, 0);
        hub.addRepo(name, spec.section(QLatin1Char('='), 1), gated.contains(name));
    }
    QTemporaryDir scratch;
    for (const QString &spec : parser.values(QStringLiteral("synthetic"))) {
        const QString name = spec.section(QLatin1Char('='), 0, 0);
        const qint64 size = spec.section(QLatin1Char('='), 1).toLongLong();
        hub.addRepo(name, writeSynthetic(scratch.filePath(name), size), gated.contains(name));
    }
    if (!hub.hubServer.listen(QHostAddress::LocalHost, 0)
        || !hub.cdnServer.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "corolla-testhub: cannot listen on 127.0.0.1\n");
        return 1;
    }
    hub.serve(hub.hubServer, false);
    hub.serve(hub.cdnServer, true);
    std::printf("hub %s\ncdn %s\n", qPrintable(hub.hubUrl()), qPrintable(hub.cdnUrl()));
    std::fflush(stdout);
    return app.exec();
}
