// `corolla api` as clients meet it: the official openai library (its answers equal what
// `corolla generate` and `corolla chat` print), malformed and oversized bodies, wrong methods,
// keys and CORS over raw HTTP, a client that disconnects mid-stream (its completion stops and
// the server's session is freed), a stream through a swarm whose server is killed midway (the
// text is the one the local model gives; with no spare, an error event ends the stream), and
// a swarm lacking blocks (503 naming them).

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "client/swarmarguments.h"
#include "tools/httpexchange.h"
#include "tools/peerprocesses.h"

using corolla::dechunkedBody;
using corolla::HttpAnswer;
using corolla::httpExchange;
using corolla::PeerProcesses;
namespace swarmtest = corolla::swarmtest;

namespace {

const QString kKey = QStringLiteral("test-key-42");

QJsonObject errorOf(const HttpAnswer &answer)
{
    return QJsonDocument::fromJson(answer.body).object()["error"].toObject();
}

// The answer's text from the events of a stream.
QString streamedText(const QByteArray &events)
{
    QString text;
    for (const QByteArray &line : events.split('\n'))
        if (line.startsWith("data: {"))
            for (const QJsonValue &choice :
                 QJsonDocument::fromJson(line.mid(6)).object()["choices"].toArray())
                text += choice.toObject()["delta"].toObject()["content"].toString();
    return text;
}

} // namespace

class TestApi : public QObject {
    Q_OBJECT

private:
    PeerProcesses m_processes{QStringLiteral(COROLLA_BINARY)};
    QTemporaryDir m_folder;
    QString m_model;

    // `corolla api` with `extra` options; its port.
    quint16 startApi(const QStringList &extra, QProcess **process = nullptr)
    {
        QProcess *api = m_processes.start(
            QStringList{QStringLiteral("api"), QStringLiteral("--model"), m_model,
                        QStringLiteral("--dtype"), QStringLiteral("fp32"), QStringLiteral("--port"),
                        QStringLiteral("0"), QStringLiteral("--events")}
            + extra);
        const nlohmann::json listening = m_processes.waitForEvent(api, "listening");
        if (listening.empty())
            qFatal("corolla api did not start:\n%s", qPrintable(m_processes.log(api)));
        if (process)
            *process = api;
        return listening["port"].get<quint16>();
    }

    // A server of the whole model that announces itself twice a second, reached through a
    // relay that delays each step by 50 ms: an answer of the test model takes seconds, long
    // enough to act in the middle of its stream.
    swarmtest::StartedServer startSlowServer(const QString &name, const QStringList &extra = {})
    {
        return swarmtest::startRelayedServer(
            m_processes,
            swarmtest::serveArguments(m_model, QStringLiteral("0:4"), name, m_folder) + extra
                + QStringList{QStringLiteral("--announce-period"), QStringLiteral("0.5"),
                              QStringLiteral("--events")},
            name, 25, QStringLiteral(COROLLA_RELAY_BINARY));
    }

    // Sends a chat completion on `client` and reads its answer up to the first piece of text.
    static QByteArray startStream(QTcpSocket &client, quint16 port, const QByteArray &body)
    {
        client.connectToHost(QStringLiteral("127.0.0.1"), port);
        if (!client.waitForConnected(30000))
            return {};
        client.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        QByteArray events;
        while (!events.contains("\"content\":\"") && client.waitForReadyRead(60000))
            events += client.readAll();
        return events;
    }

    QByteArray chatBody(int maxTokens, bool stream) const
    {
        return QJsonDocument(
                   QJsonObject{{"model", QStringLiteral("model")},
                               {"messages", QJsonArray{QJsonObject{{"role", "user"},
                                                                   {"content", "Hello there"}}}},
                               {"max_tokens", maxTokens},
                               {"temperature", 0},
                               {"stream", stream}})
            .toJson(QJsonDocument::Compact);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_folder.isValid());
        m_model = m_folder.filePath(QStringLiteral("model"));
        QCOMPARE(m_processes
                     .run({QStringLiteral("make-test-model"), QStringLiteral("--family"),
                           QStringLiteral("llama"), QStringLiteral("--out"), m_model})
                     .first,
                 0);
    }

    void theOpenAiClientLibraryWorks()
    {
        QVERIFY2(QFileInfo(QStringLiteral(COROLLA_PYTHON)).isExecutable(),
                 "no openai environment: the pyenv test sets it up");
        const quint16 port = startApi({QStringLiteral("--api-key"), kKey});
        auto client = m_processes.runToEnd({QStringLiteral(COROLLA_OPENAI_CLIENT),
                                            QStringLiteral("http://127.0.0.1:%1/v1").arg(port),
                                            kKey, QStringLiteral("model")},
                                           QStringLiteral(COROLLA_PYTHON));
        QVERIFY2(client.exitCode == 0, qPrintable(client.err));
        const QJsonObject report = QJsonDocument::fromJson(client.out).object();
        QCOMPARE(report["concurrent"].toInt(), 8);
        QVERIFY(report["errors_checked"].toBool());

        // The completion is what `corolla generate` prints for the same prompt.
        auto generate =
            m_processes.runToEnd({QStringLiteral("generate"), QStringLiteral("--model"), m_model,
                                  QStringLiteral("--dtype"), QStringLiteral("fp32"),
                                  QStringLiteral("--prompt"), QStringLiteral("The swarm"),
                                  QStringLiteral("--max-new-tokens"), QStringLiteral("10")});
        QCOMPARE(generate.exitCode, 0);
        QCOMPARE(report["completion"].toString() + QLatin1Char('\n'),
                 QString::fromUtf8(generate.out));

        // The chat answer is what `corolla chat` answers to the same messages.
        QProcess chat;
        chat.start(QStringLiteral(COROLLA_BINARY),
                   {QStringLiteral("chat"), QStringLiteral("--model"), m_model,
                    QStringLiteral("--dtype"), QStringLiteral("fp32"), QStringLiteral("--system"),
                    QStringLiteral("Be brief."), QStringLiteral("--max-new-tokens"),
                    QStringLiteral("12")});
        chat.write("Tell me about the swarm.\n/exit\n");
        chat.closeWriteChannel();
        QVERIFY(chat.waitForFinished(120000));
        const QString transcript = QString::fromUtf8(chat.readAllStandardOutput());
        QVERIFY2(transcript.startsWith(QStringLiteral("> ") + report["chat"].toString()
                                       + QStringLiteral("\n> ")),
                 qPrintable(transcript + QStringLiteral(" | ") + report["chat"].toString()));
    }

    void badRequestsGetOpenAiErrors()
    {
        const quint16 port = startApi({QStringLiteral("--api-key"), kKey,
                                       QStringLiteral("--max-body"), QStringLiteral("2KiB"),
                                       QStringLiteral("--max-concurrent"), QStringLiteral("1")});
        const QByteArray key = "Authorization: Bearer " + kKey.toUtf8() + "\r\n";
        auto malformed = httpExchange(port, "POST", "/v1/chat/completions", "{\"model\": ", key);
        QCOMPARE(malformed.status, 400);
        QCOMPARE(errorOf(malformed)["type"].toString(), QStringLiteral("invalid_request_error"));
        QVERIFY(errorOf(malformed).contains("param") && errorOf(malformed).contains("code"));

        auto noMessages =
            httpExchange(port, "POST", "/v1/chat/completions", "{\"model\": \"model\"}", key);
        QCOMPARE(noMessages.status, 400);
        QCOMPARE(errorOf(noMessages)["param"].toString(), QStringLiteral("messages"));
        auto penalty = httpExchange(
            port, "POST", "/v1/completions",
            "{\"model\": \"model\", \"prompt\": \"x\", \"frequency_penalty\": 0.5}", key);
        QCOMPARE(penalty.status, 400);
        QCOMPARE(errorOf(penalty)["param"].toString(), QStringLiteral("frequency_penalty"));
        auto badRole = httpExchange(
            port, "POST", "/v1/chat/completions",
            "{\"model\": \"model\", \"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}",
            key);
        QCOMPARE(errorOf(badRole)["param"].toString(), QStringLiteral("messages[0].role"));

        auto oversized = httpExchange(
            port, "POST", "/v1/completions",
            "{\"model\": \"model\", \"prompt\": \"" + QByteArray(4096, 'a') + "\"}", key);
        QCOMPARE(oversized.status, 413);
        auto wrongMethod = httpExchange(port, "GET", "/v1/chat/completions", {}, key);
        QCOMPARE(wrongMethod.status, 405);
        QVERIFY(wrongMethod.head.contains("Allow: POST"));
        QCOMPARE(httpExchange(port, "DELETE", "/v1/models", {}, key).status, 405);
        QCOMPARE(httpExchange(port, "GET", "/v2/anything", {}, key).status, 404);
        auto unknownModel = httpExchange(port, "GET", "/v1/models/acme/none", {}, key);
        QCOMPARE(unknownModel.status, 404);
        QCOMPARE(errorOf(unknownModel)["code"].toString(), QStringLiteral("model_not_found"));
        QCOMPARE(httpExchange(port, "GET", "/v1/models/model", {}, key).status, 200);

        QCOMPARE(httpExchange(port, "GET", "/v1/models").status, 401);
        QCOMPARE(
            httpExchange(port, "GET", "/v1/models", {}, "Authorization: Bearer nope\r\n").status,
            401);
        QCOMPARE(httpExchange(port, "GET", "/health").status, 200); // no key needed
        auto preflight = httpExchange(port, "OPTIONS", "/v1/chat/completions");
        QCOMPARE(preflight.status, 204);
        QVERIFY(preflight.head.contains("Access-Control-Allow-Origin: *"));
        QVERIFY(httpExchange(port, "GET", "/v1/models", {}, key)
                    .head.contains("Access-Control-Allow-Origin: *"));

        // Over the limit of completions at once: 429 while one runs.
        QTcpSocket running;
        running.connectToHost(QStringLiteral("127.0.0.1"), port);
        QVERIFY(running.waitForConnected(30000));
        const QByteArray body = chatBody(100000, true);
        running.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + key
                      + "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        QVERIFY(running.waitForReadyRead(60000));
        auto busy = httpExchange(port, "POST", "/v1/chat/completions", chatBody(4, false), key);
        QCOMPARE(busy.status, 429);
        running.abort();
    }

    void aDisconnectStopsTheCompletionAndFreesTheSession()
    {
        // A server with a cache of 4096 tokens and an API over it through the swarm.
        const swarmtest::StartedServer server = startSlowServer(
            QStringLiteral("solo"), {QStringLiteral("--cache-tokens"), QStringLiteral("4096")});
        const QString peers = swarmtest::writePeersFile(m_folder, {server});
        const quint16 port = startApi(swarmtest::swarmArguments(peers));
        auto cacheLeft = [&] {
            auto swarm = m_processes.runToEnd({QStringLiteral("swarm"), QStringLiteral("--model"),
                                               m_model, QStringLiteral("--static-peers"), peers,
                                               QStringLiteral("--json"), QStringLiteral("--wait"),
                                               QStringLiteral("0.5")});
            const auto json = nlohmann::json::parse(swarm.out.toStdString(), nullptr, false);
            if (!json.is_object() || !json.contains("servers") || json["servers"].empty())
                return std::int64_t(-1);
            return json["servers"][0].value("cache_tokens_left", std::int64_t(-1));
        };
        QCOMPARE(cacheLeft(), 4096);

        QTcpSocket client;
        QByteArray events = startStream(client, port, chatBody(3000, true));
        QVERIFY2(events.contains("\"content\":\""), events.constData());
        QVERIFY2(events.contains("200 OK"), events.constData());
        QVERIFY(cacheLeft() < 4096); // the session holds cache on the server
        client.abort();

        QDeadlineTimer deadline(120000);
        while (!deadline.hasExpired()) {
            auto health = httpExchange(port, "GET", "/health");
            if (QJsonDocument::fromJson(health.body).object()["active_requests"].toInt() == 0
                && cacheLeft() == 4096)
                break;
            QThread::msleep(200);
        }
        QCOMPARE(QJsonDocument::fromJson(httpExchange(port, "GET", "/health").body)
                     .object()["active_requests"]
                     .toInt(),
                 0);
        QCOMPARE(cacheLeft(), 4096); // closed on the server too
    }

    void aStreamSurvivesAKilledServer()
    {
        const QByteArray body = chatBody(3000, true);
        const quint16 local = startApi({});
        const QString expected =
            streamedText(httpExchange(local, "POST", "/v1/chat/completions", body).body);
        QVERIFY(!expected.isEmpty());

        std::vector<swarmtest::StartedServer> servers;
        for (const QString &name : {QStringLiteral("first"), QStringLiteral("spare")})
            servers.push_back(startSlowServer(name));
        const QString peers = swarmtest::writePeersFile(m_folder, servers);
        const quint16 port = startApi(swarmtest::swarmArguments(peers));
        QTcpSocket client;
        QByteArray events = startStream(client, port, chatBody(3000, true));
        QVERIFY2(events.contains("\"content\":\""), events.constData());
        // The server whose cache the session holds dies mid-answer.
        const QString busy = busiestServer(peers);
        QVERIFY(!busy.isEmpty());
        for (const auto &server : servers)
            if (server.peerId == busy)
                m_processes.kill(server.process);
        events += client.readAll();
        QVERIFY2(!events.endsWith("0\r\n\r\n"), "the answer ended before the server died");
        while (!events.endsWith("0\r\n\r\n") && client.waitForReadyRead(120000))
            events += client.readAll();
        const QByteArray decoded = dechunkedBody(events);
        QVERIFY2(!decoded.contains("\"error\""), decoded.constData());
        QCOMPARE(streamedText(decoded), expected);
    }

    void aStreamWhoseOnlyServerDiesEndsWithAnErrorEvent()
    {
        const swarmtest::StartedServer only = startSlowServer(QStringLiteral("only"));
        QStringList swarm = swarmtest::swarmArguments(swarmtest::writePeersFile(m_folder, {only}));
        swarm[swarm.indexOf(QStringLiteral("--route-timeout")) + 1] = QStringLiteral("2");
        const quint16 port = startApi(swarm);
        QTcpSocket client;
        QByteArray events = startStream(client, port, chatBody(3000, true));
        QVERIFY2(events.contains("\"content\":\""), events.constData());
        m_processes.kill(only.process);
        while (!events.endsWith("\r\n0\r\n\r\n") && client.waitForReadyRead(120000))
            events += client.readAll();
        QVERIFY2(events.startsWith("HTTP/1.1 200"), events.constData());
        // The stream had begun: the error comes as its last event, in OpenAI's shape.
        const QList<QByteArray> lines = dechunkedBody(events).split('\n');
        QByteArray errorLine;
        for (const QByteArray &line : lines)
            if (line.startsWith("data: {\"error\""))
                errorLine = line.mid(6);
        QVERIFY2(!errorLine.isEmpty(), events.constData());
        const QJsonObject error = QJsonDocument::fromJson(errorLine).object()["error"].toObject();
        QCOMPARE(error["code"].toString(), QStringLiteral("blocks_unavailable"));
        QVERIFY(dechunkedBody(events).endsWith("data: [DONE]\n\n"));
        // The API stays up, answers the next request with 503, and holds no request.
        QCOMPARE(httpExchange(port, "POST", "/v1/chat/completions", chatBody(4, false)).status,
                 503);
        QCOMPARE(QJsonDocument::fromJson(httpExchange(port, "GET", "/health").body)
                     .object()["active_requests"]
                     .toInt(),
                 0);
    }

    void aSwarmWithoutSomeBlocksAnswers503NamingThem()
    {
        const swarmtest::StartedServer half = swarmtest::waitUntilServing(
            m_processes,
            m_processes.start(swarmtest::serveArguments(m_model, QStringLiteral("0:2"),
                                                        QStringLiteral("half"), m_folder)
                              << QStringLiteral("--events")),
            QStringLiteral("half"));
        QStringList swarm = swarmtest::swarmArguments(swarmtest::writePeersFile(m_folder, {half}));
        swarm[swarm.indexOf(QStringLiteral("--route-timeout")) + 1] = QStringLiteral("1");
        const quint16 port = startApi(swarm);
        for (const bool stream : {false, true}) {
            const HttpAnswer answer =
                httpExchange(port, "POST", "/v1/chat/completions", chatBody(8, stream));
            QCOMPARE(answer.status, 503);
            const QJsonObject error = errorOf(answer);
            QCOMPARE(error["code"].toString(), QStringLiteral("blocks_unavailable"));
            QVERIFY2(error["message"].toString().contains(QStringLiteral("blocks 2-3")),
                     qPrintable(error["message"].toString()));
        }
        QCOMPARE(QJsonDocument::fromJson(httpExchange(port, "GET", "/health").body)
                     .object()["active_requests"]
                     .toInt(),
                 0);
    }

    void listeningBeyondThisMachineWithoutAKeyWarns()
    {
        QProcess *open = nullptr;
        startApi({QStringLiteral("--host"), QStringLiteral("0.0.0.0")}, &open);
        QVERIFY(m_processes.log(open).contains(QStringLiteral("warning: listening on 0.0.0.0")));
        QProcess *keyed = nullptr;
        startApi({QStringLiteral("--host"), QStringLiteral("0.0.0.0"), QStringLiteral("--api-key"),
                  kKey},
                 &keyed);
        QVERIFY(!m_processes.log(keyed).contains(QStringLiteral("warning")));
        QProcess *local = nullptr;
        startApi({}, &local);
        QVERIFY(!m_processes.log(local).contains(QStringLiteral("warning")));
    }

private:
    // The peer id of the server with the least cache left (the one a session uses).
    QString busiestServer(const QString &peers)
    {
        auto swarm =
            m_processes.runToEnd({QStringLiteral("swarm"), QStringLiteral("--model"), m_model,
                                  QStringLiteral("--static-peers"), peers, QStringLiteral("--json"),
                                  QStringLiteral("--wait"), QStringLiteral("0.5")});
        const auto json = nlohmann::json::parse(swarm.out.toStdString(), nullptr, false);
        if (!json.is_object() || !json.contains("servers"))
            return {};
        QString busiest;
        std::int64_t least = INT64_MAX;
        for (const auto &server : json["servers"])
            if (server.value("cache_tokens_left", INT64_MAX) < least) {
                least = server["cache_tokens_left"].get<std::int64_t>();
                busiest = QString::fromStdString(server["peer_id"].get<std::string>());
            }
        return busiest;
    }
};

QTEST_GUILESS_MAIN(TestApi)
#include "testapi.moc"
