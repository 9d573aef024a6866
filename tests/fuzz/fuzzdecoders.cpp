// libFuzzer target for everything that decodes bytes from other peers: the frame reader,
// protobuf envelopes and the tensors inside them, signed server records and LAN datagrams.
// Built with clang (-fsanitize=fuzzer,address,undefined) by tests/fuzz/run-fuzz.sh.

#include <cstdint>
#include <cstdlib>
#include <string>

#include <QDir>
#include <QFile>

#include "net/corolla.pb.h"
#include "net/framing.h"
#include "net/tensorcodec.h"
#include "swarm/serverrecord.h"

using namespace corolla;

namespace {

constexpr std::int64_t kMaxElements = 1 << 20;

void decodeTensorIfAny(const proto::Tensor &tensor)
{
    auto decoded = decodeTensor(tensor, kMaxElements);
    (void)decoded;
}

void exercise(const proto::Envelope &envelope)
{
    if (!envelope.has_request())
        return;
    const proto::Request &request = envelope.request();
    decodeTensorIfAny(request.forward().hidden());
    decodeTensorIfAny(request.backward().hidden());
    decodeTensorIfAny(request.backward().grad_output());
    decodeTensorIfAny(request.step().hidden());
}

void writeSeed(const QString &folder, const QString &name, const std::string &bytes)
{
    QFile file(QDir(folder).filePath(name));
    if (file.open(QIODevice::WriteOnly))
        file.write(bytes.data(), qint64(bytes.size()));
}

} // namespace

// Seeds a corpus with valid messages when COROLLA_FUZZ_SEEDS names a folder.
extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    const char *folder = std::getenv("COROLLA_FUZZ_SEEDS");
    if (!folder)
        return 0;
    QDir().mkpath(QString::fromLocal8Bit(folder));
    proto::Envelope envelope;
    envelope.set_call_id(7);
    proto::ForwardRequest &forward = *envelope.mutable_request()->mutable_forward();
    forward.set_start(1);
    forward.set_end(3);
    const std::vector<float> values{1.0f, -2.0f, 0.5f, 3.0f, 0.25f, -1.0f};
    *forward.mutable_hidden() = *encodeTensor(values, {1, 2, 3}, proto::CODEC_INT8_BLOCK, 4);
    const QByteArray frame = encodeFrame(QByteArray::fromStdString(envelope.SerializeAsString()));
    writeSeed(QString::fromLocal8Bit(folder), QStringLiteral("forward"), frame.toStdString());
    *forward.mutable_hidden() = *encodeTensor(values, {2, 3}, proto::CODEC_BF16);
    writeSeed(QString::fromLocal8Bit(folder), QStringLiteral("forward-bf16"),
              encodeFrame(QByteArray::fromStdString(envelope.SerializeAsString())).toStdString());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto *bytes = reinterpret_cast<const char *>(data);

    // The stream as a peer could send it, in two pieces split where the first byte says.
    FrameReader reader(1 << 16);
    const std::size_t split = size > 0 ? data[0] % (size + 1) : 0;
    reader.append(bytes, std::int64_t(split));
    reader.append(bytes + split, std::int64_t(size - split));
    for (int frames = 0; frames < 64; ++frames) {
        auto payload = reader.next();
        if (!payload || !payload->has_value())
            break;
        proto::Envelope envelope;
        if (envelope.ParseFromArray((*payload)->constData(), int((*payload)->size())))
            exercise(envelope);
    }

    // The same bytes as a bare envelope, a tensor, a signed record and a LAN datagram.
    proto::Envelope envelope;
    if (envelope.ParseFromArray(bytes, int(size)))
        exercise(envelope);
    proto::Tensor tensor;
    if (tensor.ParseFromArray(bytes, int(size)))
        decodeTensorIfAny(tensor);
    auto record = verifyRecord(QByteArray(bytes, qsizetype(size)), 0);
    (void)record;
    proto::LanDatagram datagram;
    if (datagram.ParseFromArray(bytes, int(size)))
        for (const proto::SignedRecord &signedRecord : datagram.records()) {
            auto verified = verifyRecord(QByteArray::fromStdString(signedRecord.SerializeAsString()), 0);
            (void)verified;
        }
    return 0;
}
