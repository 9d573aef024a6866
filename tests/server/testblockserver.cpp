// The block server over real TLS connections in this process: every call, sessions with the
// KV cache kept between steps, the cache budget, and hostile input that must get an error
// (or lose only its own connection) while other clients go on being served.

#include <optional>

#include <ATen/ATen.h>
#include <QEventLoop>
#include <QSslSocket>
#include <QtTest>

#include "loader/tensorsource.h"
#include "model/blockspan.h"
#include "model/referencemodel.h"
#include "testmodel/testmodel.h"
#include "net/framing.h"
#include "net/rpcchannel.h"
#include "net/tensorcodec.h"
#include "server/blockserver.h"
#include "wire/wiretensor.h"
#include "tools/peerprocesses.h"

using namespace corolla;

namespace {

constexpr int kCallTimeoutMs = 20000;

// Sends requests on one stream call and collects one response per request.
class Stream {
public:
    Stream(RpcChannel &channel, const proto::Request &open)
        : m_channel(channel)
    {
        m_id = channel.openStream(
            open,
            [this](Result<proto::Response> response) {
                m_responses.push_back(std::move(response));
            },
            kCallTimeoutMs);
    }
    Result<proto::Response> next()
    {
        if (!waitUntil([this] { return m_responses.size() > m_taken; }))
            return makeError(ErrorCode::Internal, "no response");
        return m_responses[m_taken++];
    }
    void send(const proto::Request &request)
    {
        m_channel.sendOnStream(m_id, request, kCallTimeoutMs);
    }

private:
    // QTRY without failing the test from inside a helper.
    static bool waitUntil(const std::function<bool()> &done)
    {
        for (int i = 0; i < kCallTimeoutMs / 10 && !done(); ++i)
            QTest::qWait(10);
        return done();
    }

    RpcChannel &m_channel;
    std::uint64_t m_id = 0;
    std::vector<Result<proto::Response>> m_responses;
    std::size_t m_taken = 0;
};

at::Tensor randomHidden(std::vector<std::int64_t> shape, std::uint64_t seed)
{
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randn(shape, generator, at::TensorOptions().dtype(at::kFloat));
}

proto::Tensor wire(const at::Tensor &tensor, proto::Codec codec = proto::CODEC_FP32)
{
    return *tensorToWire(tensor, codec);
}

at::Tensor fromWire(const proto::Tensor &tensor)
{
    return *tensorFromWire(tensor, std::int64_t(1) << 30);
}

double maxAbsDiff(const at::Tensor &a, const at::Tensor &b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

proto::Request forwardRequest(std::int64_t start, std::int64_t end, const at::Tensor &hidden,
                              proto::Codec codec = proto::CODEC_FP32)
{
    proto::Request request;
    request.mutable_forward()->set_start(start);
    request.mutable_forward()->set_end(end);
    *request.mutable_forward()->mutable_hidden() = wire(hidden, codec);
    return request;
}

proto::Request openRequest(std::int64_t start, std::int64_t end, std::int64_t batch,
                           std::int64_t maxLength)
{
    proto::Request request;
    proto::OpenSessionRequest &open = *request.mutable_open_session();
    open.set_start(start);
    open.set_end(end);
    open.set_batch(batch);
    open.set_max_length(maxLength);
    return request;
}

proto::Request stepRequest(const at::Tensor &hidden)
{
    proto::Request request;
    *request.mutable_step()->mutable_hidden() = wire(hidden);
    return request;
}

proto::ErrorKind errorKindOf(const Result<proto::Response> &response)
{
    return response.ok() && response->has_error() ? response->error().kind()
                                                  : proto::ERROR_UNSPECIFIED;
}

} // namespace

class TestBlockServer : public QObject {
    Q_OBJECT

    ModelConfig m_config;
    std::map<std::string, at::Tensor> m_weights;
    std::shared_ptr<BlockSpan> m_local; // all blocks, for expected values
    std::optional<PeerIdentity> m_identity;
    std::unique_ptr<BlockServer> m_server;
    std::unique_ptr<RpcChannel> m_channel;
    static constexpr std::int64_t kServedBegin = 1, kServedEnd = 4;

    std::unique_ptr<RpcChannel> connectClient()
    {
        return std::make_unique<RpcChannel>(QStringLiteral("127.0.0.1"), m_server->port(),
                                            m_identity->peerId());
    }

    void startServer(ServerLimits limits)
    {
        m_channel.reset();
        m_server = std::make_unique<BlockServer>(*m_identity, "tiny@test", limits);
        MemoryTensorSource source(m_weights);
        auto span = BlockSpan::load(m_config, source, kServedBegin, kServedEnd, at::kFloat);
        QVERIFY(span);
        m_server->setSpan(std::shared_ptr<BlockSpan>(std::move(*span)));
        QVERIFY(m_server->listen(QStringLiteral("127.0.0.1"), 0));
        m_channel = connectClient();
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto text = testModelConfigJson({"llama", "tiny", at::kFloat, 5});
        m_config = *ModelConfig::parse(*text, "config.json");
        m_weights = makeTestWeights(m_config, 5, at::kFloat);
        MemoryTensorSource source(m_weights);
        auto local = BlockSpan::load(m_config, source, 0, m_config.numLayers, at::kFloat);
        QVERIFY(local);
        m_local = std::shared_ptr<BlockSpan>(std::move(*local));
        m_identity = *PeerIdentity::generate();
    }

    void init()
    {
        ServerLimits limits;
        limits.cacheBudgetTokens = 256;
        limits.maxSessions = 4;
        limits.maxSessionsPerConnection = 3;
        limits.maxBatch = 4;
        limits.maxTokensPerRequest = 512;
        startServer(limits);
    }

    void cleanup()
    {
        m_channel.reset();
        m_server.reset();
    }

    void infoDescribesTheServer()
    {
        proto::Request request;
        request.mutable_info();
        auto response = callAndWait(*m_channel, request);
        QVERIFY(response);
        QCOMPARE(response->info().start(), kServedBegin);
        QCOMPARE(response->info().end(), kServedEnd);
        QCOMPARE(response->info().num_blocks(), m_config.numLayers);
        QCOMPARE(response->info().hidden_size(), m_config.hiddenSize);
        QCOMPARE(response->info().cache_tokens_left(), std::int64_t(256));
        QCOMPARE(response->info().model_id(), std::string("tiny@test"));
    }

    void forwardEqualsLocalBlocks()
    {
        const at::Tensor x = randomHidden({2, 7, m_config.hiddenSize}, 1);
        for (auto [start, end] : {std::pair<std::int64_t, std::int64_t>{1, 4}, {2, 3}}) {
            auto response = callAndWait(*m_channel, forwardRequest(start, end, x));
            QVERIFY2(response && response->has_forward(),
                     response ? "error reply" : response.error().message.c_str());
            const at::Tensor expected = *m_local->forward(x, {7, 7}, start, end);
            QVERIFY(maxAbsDiff(fromWire(response->forward().hidden()), expected) < 1e-6);
        }
        // bf16 on the wire: within the codec's bound of the exact answer.
        auto response = callAndWait(*m_channel, forwardRequest(1, 4, x, proto::CODEC_BF16));
        QVERIFY(response && response->has_forward());
        QCOMPARE(response->forward().hidden().codec(), proto::CODEC_BF16);
        const at::Tensor expected =
            *m_local->forward(x.to(at::kBFloat16).to(at::kFloat), {7, 7}, 1, 4);
        const at::Tensor got = fromWire(response->forward().hidden());
        QVERIFY((got - expected).abs().le(expected.abs() * (1.0 / 256) + 1e-6).all().item<bool>());
    }

    void backwardMatchesTheReferenceGradient()
    {
        const at::Tensor x = randomHidden({1, 6, m_config.hiddenSize}, 2);
        const at::Tensor g = randomHidden({1, 6, m_config.hiddenSize}, 3);
        proto::Request request;
        request.mutable_backward()->set_start(1);
        request.mutable_backward()->set_end(3);
        *request.mutable_backward()->mutable_hidden() = wire(x);
        *request.mutable_backward()->mutable_grad_output() = wire(g);
        auto response = callAndWait(*m_channel, request);
        QVERIFY2(response && response->has_backward(),
                 response ? response->error().message().c_str() : response.error().message.c_str());
        const at::Tensor got = fromWire(response->backward().grad_input());

        // d<blocks(x), g>/dx by central differences of the double-precision reference, one
        // input at a time (the reference is written for clarity, not for autograd).
        reference::Weights weights;
        for (const auto &[name, tensor] : m_weights)
            weights[name] = tensor.to(at::kDouble);
        const at::Tensor x0 = x[0].to(at::kDouble);
        const at::Tensor g0 = g[0].to(at::kDouble);
        auto loss = [&](const at::Tensor &input) {
            return (reference::blocks(m_config, weights, input, 1, 3) * g0).sum().item<double>();
        };
        const double eps = 1e-5;
        at::Tensor expected = at::zeros_like(x0);
        for (std::int64_t t = 0; t < x0.size(0); ++t) {
            for (std::int64_t i = 0; i < x0.size(1); ++i) {
                at::Tensor plus = x0.clone(), minus = x0.clone();
                plus[t][i] += eps;
                minus[t][i] -= eps;
                expected[t][i] = (loss(plus) - loss(minus)) / (2 * eps);
            }
        }
        const double scale = expected.abs().max().item<double>();
        QVERIFY2(maxAbsDiff(got[0], expected) <= 1e-4 * scale,
                 qPrintable(QString::number(maxAbsDiff(got[0], expected) / scale)));
    }

    void sessionStepsEqualOneForward()
    {
        const at::Tensor x = randomHidden({1, 9, m_config.hiddenSize}, 4);
        Stream stream(*m_channel, openRequest(1, 4, 1, 16));
        auto opened = stream.next();
        QVERIFY(opened && opened->has_open_session());
        QCOMPARE(opened->open_session().cache_tokens_left(), std::int64_t(256 - 16));

        // A 5-token prefill, then four single tokens, sent without waiting for the answers.
        stream.send(stepRequest(x.narrow(1, 0, 5)));
        for (std::int64_t t = 5; t < 9; ++t)
            stream.send(stepRequest(x.narrow(1, t, 1)));
        std::vector<at::Tensor> outputs;
        for (int i = 0; i < 5; ++i) {
            auto step = stream.next();
            QVERIFY2(step && step->has_step(),
                     step ? step->error().message().c_str() : step.error().message.c_str());
            outputs.push_back(fromWire(step->step().hidden()));
            QCOMPARE(step->step().position(), i == 0 ? std::int64_t(5) : std::int64_t(5 + i));
        }
        const at::Tensor expected = *m_local->forward(x, {9}, 1, 4);
        QVERIFY(maxAbsDiff(at::cat(outputs, 1), expected) < 1e-5);

        // Past max_length: an error, and the session survives it.
        stream.send(stepRequest(randomHidden({1, 8, m_config.hiddenSize}, 5)));
        auto overflow = stream.next();
        QVERIFY(overflow && overflow->has_error());
        QVERIFY(QString::fromStdString(overflow->error().message())
                    .contains(QLatin1String("sized for 16")));
    }

    void sessionsThatDoNotFitAreRefusedAtOnce()
    {
        Stream big(*m_channel, openRequest(1, 4, 2, 100)); // 200 of 256 tokens
        QVERIFY(big.next()->has_open_session());
        Stream refused(*m_channel, openRequest(1, 4, 1, 100));
        auto answer = refused.next();
        QCOMPARE(errorKindOf(answer), proto::ERROR_BUSY);
        QVERIFY(QString::fromStdString(answer->error().message())
                    .contains(QLatin1String("cache tokens")));
        QCOMPARE(m_server->cacheTokensLeft(), std::int64_t(56));

        proto::Request close;
        close.mutable_close_session();
        big.send(close);
        QVERIFY(big.next()->has_close_session());
        QCOMPARE(m_server->cacheTokensLeft(), std::int64_t(256));
        Stream fits(*m_channel, openRequest(1, 4, 1, 100));
        QVERIFY(fits.next()->has_open_session());
    }

    void tooManySessionsAreRefused()
    {
        std::vector<std::unique_ptr<Stream>> streams;
        for (int i = 0; i < 3; ++i) {
            streams.push_back(std::make_unique<Stream>(*m_channel, openRequest(1, 2, 1, 8)));
            QVERIFY(streams.back()->next()->has_open_session());
        }
        Stream fourth(*m_channel, openRequest(1, 2, 1, 8)); // over the per-connection limit
        QCOMPARE(errorKindOf(fourth.next()), proto::ERROR_BUSY);
        auto other = connectClient();
        Stream fromOther(*other, openRequest(1, 2, 1, 8));
        QVERIFY(fromOther.next()->has_open_session());
        Stream fifth(*other, openRequest(1, 2, 1, 8)); // over the server's limit of 4
        QCOMPARE(errorKindOf(fifth.next()), proto::ERROR_BUSY);
    }

    void badRequestsGetErrorsAndServiceContinues()
    {
        const std::int64_t h = m_config.hiddenSize;
        auto expectError = [&](const proto::Request &request, proto::ErrorKind kind,
                               const char *text) {
            auto response = callAndWait(*m_channel, request);
            QVERIFY2(response, response ? "" : response.error().message.c_str());
            QCOMPARE(errorKindOf(response), kind);
            QVERIFY2(
                QString::fromStdString(response->error().message()).contains(QLatin1String(text)),
                response->error().message().c_str());
        };
        expectError(forwardRequest(0, 2, randomHidden({1, 3, h}, 6)), proto::ERROR_NOT_SERVED,
                    "not all served");
        expectError(forwardRequest(3, 5, randomHidden({1, 3, h}, 6)), proto::ERROR_NOT_SERVED,
                    "holds [1, 4)");
        expectError(forwardRequest(2, 2, randomHidden({1, 3, h}, 6)), proto::ERROR_INVALID_REQUEST,
                    "empty");
        expectError(forwardRequest(1, 4, randomHidden({1, 3, h + 1}, 6)),
                    proto::ERROR_INVALID_REQUEST, "shape");
        expectError(forwardRequest(1, 4, randomHidden({5, 3, h}, 6)), proto::ERROR_INVALID_REQUEST,
                    "batch");
        expectError(forwardRequest(1, 4, randomHidden({1, 600, h}, 6)),
                    proto::ERROR_INVALID_REQUEST, "elements");
        at::Tensor withNan = randomHidden({1, 3, h}, 6);
        withNan[0][1][2] = NAN;
        expectError(forwardRequest(1, 4, withNan), proto::ERROR_INVALID_REQUEST, "finite");
        proto::Request lengths = forwardRequest(1, 4, randomHidden({2, 3, h}, 6));
        lengths.mutable_forward()->add_lengths(3);
        expectError(lengths, proto::ERROR_INVALID_REQUEST, "lengths");
        lengths.mutable_forward()->add_lengths(4);
        expectError(lengths, proto::ERROR_INVALID_REQUEST, "outside");
        proto::Request truncated = forwardRequest(1, 4, randomHidden({1, 3, h}, 6));
        truncated.mutable_forward()->mutable_hidden()->mutable_data()->resize(10);
        expectError(truncated, proto::ERROR_INVALID_REQUEST, "bytes");
        expectError(stepRequest(randomHidden({1, 1, h}, 6)), proto::ERROR_NO_SESSION,
                    "no open session");
        proto::Request empty;
        expectError(empty, proto::ERROR_INVALID_REQUEST, "unknown request");
        expectError(openRequest(1, 4, 1, 100000), proto::ERROR_INVALID_REQUEST, "tokens");
        proto::Request unknownCodec = openRequest(1, 4, 1, 8);
        unknownCodec.mutable_open_session()->set_reply_codec(proto::Codec(77));
        expectError(unknownCodec, proto::ERROR_INVALID_REQUEST, "reply codec");
        proto::Request unknownForwardCodec = forwardRequest(1, 4, randomHidden({1, 3, h}, 6));
        unknownForwardCodec.mutable_forward()->set_reply_codec(proto::Codec(77));
        expectError(unknownForwardCodec, proto::ERROR_INVALID_REQUEST, "reply codec");

        Stream stream(*m_channel, openRequest(1, 4, 2, 8));
        QVERIFY(stream.next()->has_open_session());
        stream.send(stepRequest(randomHidden({1, 1, h}, 7))); // batch 1 in a batch-2 session
        QCOMPARE(errorKindOf(stream.next()), proto::ERROR_INVALID_REQUEST);
        stream.send(stepRequest(randomHidden({2, 1, h}, 7)));
        QVERIFY(stream.next()->has_step());

        // The same connection still works.
        auto response = callAndWait(*m_channel, forwardRequest(1, 4, randomHidden({1, 3, h}, 8)));
        QVERIFY(response && response->has_forward());
        QVERIFY(m_server->stats().errors >= 14);
    }

    void brokenFramesCloseOnlyTheirConnection()
    {
        // The server runs on this thread: wait by spinning the event loop, never blocking it.
        auto spinUntil = [](const std::function<bool()> &done) {
            for (int i = 0; i < 1000 && !done(); ++i)
                QTest::qWait(10);
            return done();
        };
        auto sendRaw = [&](const QByteArray &bytes) {
            QSslSocket socket;
            socket.setSslConfiguration(clientTlsConfiguration());
            socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), m_server->port());
            if (!spinUntil([&] { return socket.isEncrypted(); }))
                return QStringLiteral("no handshake");
            socket.write(bytes);
            spinUntil([&] {
                return socket.state() == QAbstractSocket::UnconnectedState
                       || socket.bytesAvailable() > 0;
            });
            if (socket.state() == QAbstractSocket::UnconnectedState)
                return QStringLiteral("closed");
            return socket.bytesAvailable() > 0 ? QStringLiteral("answered")
                                               : QStringLiteral("silent");
        };
        QCOMPARE(sendRaw(encodeFrame(QByteArray("\xff\xff\xff garbage that is not protobuf", 33))),
                 QStringLiteral("closed"));
        QCOMPARE(sendRaw(QByteArray::fromHex("7fffffff") + QByteArray(64, 'x')),
                 QStringLiteral("closed"));
        // An envelope that is a response, not a request: an error reply, the connection stays.
        proto::Envelope wrongWay;
        wrongWay.mutable_response()->mutable_ping();
        QCOMPARE(sendRaw(encodeFrame(QByteArray::fromStdString(wrongWay.SerializeAsString()))),
                 QStringLiteral("answered"));
        // A truncated frame: the server waits for the rest; the client gives up and goes.
        {
            QSslSocket socket;
            socket.setSslConfiguration(clientTlsConfiguration());
            socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), m_server->port());
            QTRY_VERIFY(socket.isEncrypted());
            socket.write(encodeFrame(QByteArray(100, 'x')).left(50));
            QTest::qWait(50);
        }
        // Plain TCP with no TLS at all.
        QTcpSocket plain;
        plain.connectToHost(QStringLiteral("127.0.0.1"), m_server->port());
        QTRY_COMPARE(plain.state(), QAbstractSocket::ConnectedState);
        plain.write("GET / HTTP/1.0\r\n\r\n");
        QTRY_COMPARE(plain.state(), QAbstractSocket::UnconnectedState);

        auto response = callAndWait(
            *m_channel, forwardRequest(1, 4, randomHidden({1, 2, m_config.hiddenSize}, 9)));
        QVERIFY(response && response->has_forward());
    }

    void callsInFlightAreLimitedPerConnection()
    {
        ServerLimits limits;
        limits.maxInFlightPerConnection = 2;
        startServer(limits);
        // Twenty calls leave in one burst; the server reads them together and admits two.
        int answered = 0, busy = 0;
        for (int i = 0; i < 20; ++i)
            m_channel->call(forwardRequest(1, 4, randomHidden({1, 2, m_config.hiddenSize}, 11)),
                            [&](Result<proto::Response> response) {
                                ++answered;
                                busy += errorKindOf(response) == proto::ERROR_BUSY ? 1 : 0;
                            });
        QTRY_COMPARE(answered, 20);
        QVERIFY2(busy > 0 && busy <= 18, qPrintable(QString::number(busy)));
        // Once they are answered, the connection takes calls again.
        auto response = callAndWait(
            *m_channel, forwardRequest(1, 4, randomHidden({1, 2, m_config.hiddenSize}, 12)));
        QVERIFY(response && response->has_forward());
    }

    void disconnectingFreesSessions()
    {
        auto client = connectClient();
        {
            Stream stream(*client, openRequest(1, 4, 1, 64));
            QVERIFY(stream.next()->has_open_session());
            QCOMPARE(m_server->cacheTokensLeft(), std::int64_t(256 - 64));
        }
        client.reset();
        QTRY_COMPARE(m_server->cacheTokensLeft(), std::int64_t(256));
        QTRY_COMPARE(m_server->stats().sessionsOpen, std::int64_t(0));
    }

    void idleSessionsExpire()
    {
        ServerLimits limits;
        limits.cacheBudgetTokens = 100;
        limits.sessionIdleTimeoutMs = 200;
        startServer(limits);
        Stream stream(*m_channel, openRequest(1, 4, 1, 50));
        QVERIFY(stream.next()->has_open_session());
        QCOMPARE(m_server->cacheTokensLeft(), std::int64_t(50));
        QTRY_COMPARE(m_server->cacheTokensLeft(), std::int64_t(100));
        stream.send(stepRequest(randomHidden({1, 1, m_config.hiddenSize}, 10)));
        QCOMPARE(errorKindOf(stream.next()), proto::ERROR_NO_SESSION);
    }
};

QTEST_GUILESS_MAIN(TestBlockServer)
#include "testblockserver.moc"
