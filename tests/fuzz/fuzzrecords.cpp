// libFuzzer target: server records as registries deliver them. The input is read three
// ways: as a signed record (DHT values), as a LAN datagram of signed records, and as the
// body of a record that is then signed with a fixed key, so that the field checks behind
// the signature are reached too. A record that verifies is always the body that was signed.

#include <cstdint>

#include "fuzzseeds.h"
#include "net/corolla.pb.h"
#include "net/identity.h"
#include "swarm/serverrecord.h"
#include "tools/samplerecord.h"

using namespace corolla;

namespace {

constexpr std::int64_t kNowMs = 1'800'000'000'000; // a fixed "now": runs are reproducible

const PeerIdentity &signer()
{
    static const PeerIdentity identity = *PeerIdentity::generate();
    return identity;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    const QString folder = fuzz::seedFolder();
    if (folder.isEmpty())
        return 0;
    const proto::ServerRecord record = sampleServerRecord(signer().peerId(), kNowMs);
    fuzz::writeSeed(folder, QStringLiteral("body"), record.SerializeAsString());
    const QByteArray signedRecord = signRecord(record, signer());
    fuzz::writeSeed(folder, QStringLiteral("signed"), signedRecord.toStdString());
    proto::LanDatagram datagram;
    datagram.add_records()->ParseFromArray(signedRecord.constData(), int(signedRecord.size()));
    fuzz::writeSeed(folder, QStringLiteral("datagram"), datagram.SerializeAsString());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const QByteArray bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    auto asSigned = verifyRecord(bytes, kNowMs);
    (void)asSigned;

    proto::LanDatagram datagram;
    if (datagram.ParseFromArray(data, int(size)))
        for (const proto::SignedRecord &signedRecord : datagram.records()) {
            auto verified =
                verifyRecord(QByteArray::fromStdString(signedRecord.SerializeAsString()), kNowMs);
            (void)verified;
        }

    proto::ServerRecord body;
    if (size <= 8192 && body.ParseFromArray(data, int(size))) {
        body.set_peer_id(signer().peerId()); // else the key check stops every input
        auto verified = verifyRecord(signRecord(body, signer()), kNowMs);
        if (verified && verified->SerializeAsString() != body.SerializeAsString())
            fuzz::violated("a verified record differs from the body that was signed");
    }
    return 0;
}
