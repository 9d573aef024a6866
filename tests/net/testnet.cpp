// The wire: tensor codecs and their error bounds, framing, base58, identities, and TLS
// connections that refuse a server whose key is not the expected peer's.

#include <cmath>
#include <limits>
#include <random>

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "net/base58.h"
#include "net/framing.h"
#include "net/identity.h"
#include "net/listener.h"
#include "net/rpcchannel.h"
#include "net/tensorcodec.h"

using namespace corolla;

namespace {

std::vector<float> randomValues(std::size_t n, float scale, std::uint32_t seed)
{
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> values(n);
    for (float &value : values)
        value = normal(generator);
    return values;
}

std::vector<float> roundTrip(const std::vector<float> &values, proto::Codec codec)
{
    auto wire = encodeTensor(values, {std::int64_t(values.size())}, codec);
    if (!wire)
        qFatal("encode failed: %s", wire.error().message.c_str());
    auto decoded = decodeTensor(*wire, 1 << 24);
    if (!decoded)
        qFatal("decode failed: %s", decoded.error().message.c_str());
    return decoded->values;
}

} // namespace

class TestNet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fp32IsExact()
    {
        const auto values = randomValues(1000, 3.0f, 1);
        QCOMPARE(roundTrip(values, proto::CODEC_FP32), values);
    }

    void bf16WithinHalfAnUlp()
    {
        auto values = randomValues(4096, 5.0f, 2);
        values.push_back(1e30f);
        values.push_back(-1e-30f);
        values.push_back(0.0f);
        const auto decoded = roundTrip(values, proto::CODEC_BF16);
        for (std::size_t i = 0; i < values.size(); ++i)
            QVERIFY2(std::fabs(decoded[i] - values[i]) <= std::ldexp(std::fabs(values[i]), -8),
                     qPrintable(QString::number(values[i])));
        // Round to nearest even at an exact tie: 1 + 2^-8 lies between 1 and 1 + 2^-7.
        QCOMPARE(bf16ToFloat(floatToBf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
        QCOMPARE(bf16ToFloat(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8))),
                 1.0f + std::ldexp(1.0f, -6));
        // Values that would round to infinity are refused, not sent as something no peer takes.
        const std::vector<float> huge{1.0f, std::numeric_limits<float>::max()};
        auto refused = encodeTensor(huge, {2}, proto::CODEC_BF16);
        QVERIFY(!refused);
        QVERIFY(
            QString::fromStdString(refused.error().message).contains(QLatin1String("bf16 range")));
        QVERIFY(encodeTensor(std::vector<float>{3.3e38f}, {1}, proto::CODEC_BF16));
    }

    void fp16WithinBound()
    {
        auto values = randomValues(4096, 100.0f, 3);
        for (float tiny : {1e-5f, -3e-7f, 6e-8f, 65504.0f, -65504.0f, 6.1035156e-05f})
            values.push_back(tiny);
        const auto decoded = roundTrip(values, proto::CODEC_FP16);
        for (std::size_t i = 0; i < values.size(); ++i) {
            const float magnitude = std::fabs(values[i]);
            const float bound = magnitude >= std::ldexp(1.0f, -14) ? std::ldexp(magnitude, -11)
                                                                   : std::ldexp(1.0f, -25);
            QVERIFY2(std::fabs(decoded[i] - values[i]) <= bound,
                     qPrintable(QString::number(values[i])));
        }
        // Every half value survives a round trip exactly.
        for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
            if (((bits >> 10) & 0x1f) == 0x1f)
                continue; // infinities and NaNs
            QCOMPARE(floatToFp16(fp16ToFloat(std::uint16_t(bits))), std::uint16_t(bits));
        }
        auto tooLarge = encodeTensor(std::vector<float>{1.0f, 70000.0f}, {2}, proto::CODEC_FP16);
        QVERIFY(!tooLarge);
        QVERIFY(
            QString::fromStdString(tooLarge.error().message).contains(QLatin1String("fp16 range")));
    }

    void int8BlockWithinBound()
    {
        auto values = randomValues(1000, 2.0f, 4); // not a multiple of the block size
        for (std::size_t i = 128; i < 192; ++i)
            values[i] = 0.0f; // an all-zero block
        const auto decoded = roundTrip(values, proto::CODEC_INT8_BLOCK);
        for (std::size_t block = 0; block * kDefaultInt8BlockSize < values.size(); ++block) {
            const std::size_t begin = block * kDefaultInt8BlockSize;
            const std::size_t end = std::min(values.size(), begin + kDefaultInt8BlockSize);
            float absmax = 0.0f;
            for (std::size_t i = begin; i < end; ++i)
                absmax = std::max(absmax, std::fabs(values[i]));
            const float bound = absmax / 254.0f * (1.0f + 1e-5f);
            for (std::size_t i = begin; i < end; ++i)
                QVERIFY(std::fabs(decoded[i] - values[i]) <= bound);
        }
        QCOMPARE(decoded[150], 0.0f);
    }

    void lossyCodecsRefuseNonFinite()
    {
        for (proto::Codec codec : {proto::CODEC_BF16, proto::CODEC_FP16, proto::CODEC_INT8_BLOCK})
            QVERIFY(!encodeTensor(std::vector<float>{1.0f, NAN}, {2}, codec));
    }

    void decodeRejectsMalformedTensors()
    {
        auto good = encodeTensor(randomValues(12, 1.0f, 5), {3, 4}, proto::CODEC_BF16);
        QVERIFY(good);
        QVERIFY(decodeTensor(*good, 12));
        QVERIFY(!decodeTensor(*good, 11)); // over the element limit

        proto::Tensor shortData = *good;
        shortData.mutable_data()->pop_back();
        QVERIFY(!decodeTensor(shortData, 100));

        proto::Tensor negative = *good;
        negative.set_shape(0, -3);
        QVERIFY(!decodeTensor(negative, 100));

        proto::Tensor huge = *good;
        huge.set_shape(0, std::int64_t(1) << 40);
        huge.set_shape(1, std::int64_t(1) << 40); // the product overflows int64
        QVERIFY(!decodeTensor(huge, std::int64_t(1) << 62));

        proto::Tensor unknown = *good;
        unknown.set_codec(proto::Codec(77));
        QVERIFY(!decodeTensor(unknown, 100));

        proto::Tensor noRank = *good;
        noRank.clear_shape();
        QVERIFY(!decodeTensor(noRank, 100));

        auto int8 = encodeTensor(randomValues(100, 1.0f, 6), {100}, proto::CODEC_INT8_BLOCK);
        proto::Tensor missingScale = *int8;
        missingScale.mutable_scales()->resize(4);
        QVERIFY(!decodeTensor(missingScale, 1000));
        proto::Tensor zeroBlock = *int8;
        zeroBlock.set_block_size(0);
        QVERIFY(!decodeTensor(zeroBlock, 1000));
        proto::Tensor nanScale = *int8;
        const float nan = NAN;
        std::memcpy(nanScale.mutable_scales()->data(), &nan, 4);
        QVERIFY(!decodeTensor(nanScale, 1000));

        auto fp32 = encodeTensor(std::vector<float>{1.0f, INFINITY}, {2}, proto::CODEC_FP32);
        QVERIFY(fp32); // fp32 carries what it is given...
        auto decoded = decodeTensor(*fp32, 10);
        QVERIFY(!decoded); // ...and the receiver refuses non-finite values
        QVERIFY(
            QString::fromStdString(decoded.error().message).contains(QLatin1String("element 1")));
    }

    void base58RoundTrips()
    {
        QCOMPARE(base58Encode(std::string("\0\0\x01", 3)), std::string("112"));
        QCOMPARE(base58Encode("hello world"), std::string("StV1DL6CwTryKyV"));
        std::mt19937 generator(7);
        for (int length = 0; length < 40; ++length) {
            std::string bytes(std::size_t(length), '\0');
            for (char &byte : bytes)
                byte = char(generator() % 4 == 0 ? 0 : generator());
            QCOMPARE(base58Decode(base58Encode(bytes)).value(), bytes);
        }
        QVERIFY(!base58Decode("0OIl"));
    }

    void framingHandlesPartialAndCoalescedFrames()
    {
        const QByteArray a(1000, 'a'), b, c("ccc");
        const QByteArray stream = encodeFrame(a) + encodeFrame(b) + encodeFrame(c);
        FrameReader reader;
        QList<QByteArray> payloads;
        for (char byte : stream) { // one byte at a time
            reader.append(&byte, 1);
            for (;;) {
                auto next = reader.next();
                QVERIFY(next);
                if (!next->has_value())
                    break;
                payloads.append(**next);
            }
        }
        QCOMPARE(payloads, (QList<QByteArray>{a, b, c}));

        FrameReader together; // all at once
        together.append(stream);
        QCOMPARE(together.next()->value(), a);
        QCOMPARE(together.next()->value(), b);
        QCOMPARE(together.next()->value(), c);
        QVERIFY(!together.next()->has_value());
        QCOMPARE(together.buffered(), 0);
    }

    void framingRefusesOversizedLengthBeforeAllocating()
    {
        FrameReader reader(1024);
        reader.append(QByteArray::fromHex("7fffffff") + QByteArray("xy"));
        auto next = reader.next();
        QVERIFY(!next);
        QVERIFY(QString::fromStdString(next.error().message).contains(QLatin1String("exceeds")));
    }

    void identityIsCreatedPrivateAndReloaded()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("keys/identity.pem"));
        auto created = PeerIdentity::loadOrCreate(path.toStdString());
        QVERIFY(created);
        QCOMPARE(QFile(path).permissions()
                     & (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteGroup
                        | QFileDevice::WriteOther),
                 QFileDevice::Permissions());
        auto loaded = PeerIdentity::loadOrCreate(path.toStdString());
        QVERIFY(loaded);
        QCOMPARE(loaded->peerId(), created->peerId());
        QCOMPARE(created->peerId(), peerIdFromPublicKey(created->publicKey()));
        QCOMPARE(base58Decode(created->peerId())->size(), std::size_t(32));

        const QByteArray message("announce");
        const QByteArray signature = created->sign(message);
        QVERIFY(verifyEd25519(created->publicKey(), message, signature));
        QVERIFY(!verifyEd25519(created->publicKey(), message + '!', signature));
        auto other = PeerIdentity::generate();
        QVERIFY(!verifyEd25519(other->publicKey(), message, signature));

        const QString garbage = dir.filePath(QStringLiteral("garbage.pem"));
        QFile file(garbage);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("not a key");
        file.close();
        auto refused = PeerIdentity::loadOrCreate(garbage.toStdString());
        QVERIFY(!refused);
        QCOMPARE(QFile(garbage).size(), qint64(9)); // never overwritten
    }

    void tlsConnectsToTheExpectedPeerOnly()
    {
        auto server = PeerIdentity::generate();
        auto impostor = PeerIdentity::generate();
        Listener listener(server->serverConfiguration(), kDefaultMaxFrameBytes);
        QVERIFY(listener.listen(QHostAddress::LocalHost, 0));
        QList<Connection *> accepted;
        connect(&listener, &Listener::accepted, this, [&](Connection *connection) {
            accepted.append(connection);
            connect(connection, &Connection::envelopeReceived, connection,
                    [connection](const proto::Envelope &envelope) {
                        proto::Envelope answer;
                        answer.set_call_id(envelope.call_id());
                        answer.mutable_response()->mutable_ping()->set_client_time_us(
                            envelope.request().ping().client_time_us());
                        connection->send(answer);
                    });
        });

        RpcChannel genuine(QStringLiteral("127.0.0.1"), listener.serverPort(), server->peerId());
        proto::Request ping;
        ping.mutable_ping()->set_client_time_us(42);
        std::optional<Result<proto::Response>> answer;
        genuine.call(ping, [&](Result<proto::Response> response) { answer = std::move(response); });
        QTRY_VERIFY(answer.has_value());
        QVERIFY(answer->ok());
        QCOMPARE((*answer)->ping().client_time_us(), quint64(42));
        QCOMPARE(genuine.connection()->peerId(), server->peerId());
        QCOMPARE(genuine.connection()->bytesSent() > 0, true);

        // Someone answering at that address with another key is refused before any request
        // leaves this process.
        RpcChannel fooled(QStringLiteral("127.0.0.1"), listener.serverPort(), impostor->peerId());
        std::optional<Result<proto::Response>> refused;
        fooled.call(ping, [&](Result<proto::Response> response) { refused = std::move(response); });
        QTRY_VERIFY(refused.has_value());
        QVERIFY(!refused->ok());
        QVERIFY2(QString::fromStdString(refused->error().message)
                     .contains(QLatin1String("not the expected")),
                 refused->error().message.c_str());
        QCOMPARE(fooled.connection()->bytesSent(), qint64(0));
        qDeleteAll(accepted);
    }

    void callsTimeOutWhenNobodyAnswers()
    {
        auto server = PeerIdentity::generate();
        Listener listener(server->serverConfiguration(), kDefaultMaxFrameBytes);
        QVERIFY(listener.listen(QHostAddress::LocalHost, 0));
        QList<Connection *> accepted; // accepts, never answers
        connect(&listener, &Listener::accepted, this, [&](Connection *c) { accepted.append(c); });
        RpcChannel channel(QStringLiteral("127.0.0.1"), listener.serverPort(), server->peerId());
        proto::Request ping;
        ping.mutable_ping();
        std::optional<Result<proto::Response>> answer;
        channel.call(
            ping, [&](Result<proto::Response> response) { answer = std::move(response); }, 300);
        QTRY_VERIFY(answer.has_value());
        QVERIFY(!answer->ok());
        QVERIFY(QString::fromStdString(answer->error().message).contains(QLatin1String("in time")));
        qDeleteAll(accepted);
    }
};

QTEST_GUILESS_MAIN(TestNet)
#include "testnet.moc"
