// libFuzzer target: the byte stream of a connection as a peer could send it — the frame
// reader (lengths, limits, partial frames) and the protobuf envelopes inside the frames.

#include <cstdint>

#include "fuzzseeds.h"
#include "net/corolla.pb.h"
#include "net/framing.h"
#include "net/tensorcodec.h"

using namespace corolla;

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    const QString folder = fuzz::seedFolder();
    if (folder.isEmpty())
        return 0;
    proto::Envelope envelope;
    envelope.set_call_id(7);
    proto::ForwardRequest &forward = *envelope.mutable_request()->mutable_forward();
    forward.set_start(1);
    forward.set_end(3);
    const std::vector<float> values{1.0f, -2.0f, 0.5f, 3.0f, 0.25f, -1.0f};
    *forward.mutable_hidden() = *encodeTensor(values, {1, 2, 3}, proto::CODEC_BF16);
    const QByteArray one = encodeFrame(QByteArray::fromStdString(envelope.SerializeAsString()));
    fuzz::writeSeed(folder, QStringLiteral("forward"), one.toStdString());
    envelope.mutable_request()->mutable_ping()->set_client_time_us(12345);
    fuzz::writeSeed(
        folder, QStringLiteral("two-frames"),
        (one + encodeFrame(QByteArray::fromStdString(envelope.SerializeAsString()))).toStdString());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto *bytes = reinterpret_cast<const char *>(data);
    // The stream in two pieces, split where the first byte says: frames cross reads.
    FrameReader reader(1 << 16);
    const std::size_t split = size > 0 ? data[0] % (size + 1) : 0;
    reader.append(bytes, std::int64_t(split));
    reader.append(bytes + split, std::int64_t(size - split));
    std::size_t payloadBytes = 0;
    for (int frames = 0; frames < 64; ++frames) {
        auto payload = reader.next();
        if (!payload || !payload->has_value())
            break;
        payloadBytes += std::size_t((*payload)->size());
        if (payloadBytes + 4 * std::size_t(frames + 1) > size)
            fuzz::violated("the reader returned more payload than the stream held");
        proto::Envelope envelope;
        if (envelope.ParseFromArray((*payload)->constData(), int((*payload)->size()))
            && envelope.has_request()) {
            const proto::Request &request = envelope.request();
            for (const proto::Tensor *tensor :
                 {&request.forward().hidden(), &request.backward().hidden(),
                  &request.backward().grad_output(), &request.step().hidden()}) {
                auto decoded = decodeTensor(*tensor, 1 << 20);
                (void)decoded;
            }
        }
    }
    return 0;
}
