#include "swarm/serverrecord.h"

#include <cmath>

#include "net/identity.h"

namespace corolla {

namespace {

constexpr std::size_t kMaxTextBytes = 256;
constexpr std::int64_t kMaxBlocks = 1 << 16;
// Allowed difference between a peer's clock and ours when it says when it announced.
constexpr std::int64_t kClockSkewMs = 5 * 60 * 1000;

Error invalid(const std::string &what)
{
    return makeError(ErrorCode::Format, "server record rejected: " + what);
}

bool finiteNonNegative(double value)
{
    return std::isfinite(value) && value >= 0.0;
}

Result<void> checkFields(const proto::ServerRecord &record, std::int64_t nowMs)
{
    if (record.model_id().empty() || record.model_id().size() > kMaxTextBytes)
        return invalid("bad model id");
    if (record.num_blocks() <= 0 || record.num_blocks() > kMaxBlocks)
        return invalid("bad number of blocks");
    if (record.start() < 0 || record.start() >= record.end() || record.end() > record.num_blocks())
        return invalid("span [" + std::to_string(record.start()) + ", "
                       + std::to_string(record.end()) + ") is not inside the model");
    if (record.addresses_size() > kMaxRecordAddresses)
        return invalid("too many addresses");
    for (const std::string &address : record.addresses())
        if (address.empty() || address.size() > kMaxTextBytes)
            return invalid("bad address");
    if (record.public_name().size() > kMaxTextBytes || record.version().size() > kMaxTextBytes
        || record.dtype().size() > kMaxTextBytes || record.quantization().size() > kMaxTextBytes
        || record.adapters_size() > kMaxRecordAddresses)
        return invalid("oversized text field");
    for (const std::string &adapter : record.adapters())
        if (adapter.empty() || adapter.size() > kMaxTextBytes)
            return invalid("bad adapter name");
    if (!finiteNonNegative(record.throughput()) || !finiteNonNegative(record.inference_rps())
        || !finiteNonNegative(record.forward_rps()) || !finiteNonNegative(record.network_rps()))
        return invalid("rates must be finite and non-negative");
    if (record.cache_tokens_left() < 0 || record.hidden_size() < 0)
        return invalid("negative cache or hidden size");
    if (record.state() < proto::STATE_JOINING || record.state() > proto::STATE_OFFLINE)
        return invalid("unknown state");
    if (record.expires_at_ms() <= nowMs)
        return invalid("expired");
    // announced >= 0 keeps expires - announced from overflowing on hostile values.
    if (record.announced_at_ms() < 0 || record.announced_at_ms() > nowMs + kClockSkewMs
        || record.expires_at_ms() - record.announced_at_ms() > kMaxRecordLifetimeMs)
        return invalid("announcement time or lifetime out of range");
    return {};
}

} // namespace

QByteArray signRecord(const proto::ServerRecord &record, const PeerIdentity &identity)
{
    const std::string bytes = record.SerializeAsString();
    proto::SignedRecord signedRecord;
    signedRecord.set_record(bytes);
    signedRecord.set_public_key(identity.publicKey().constData(),
                                std::size_t(identity.publicKey().size()));
    const QByteArray signature = identity.sign(QByteArray::fromStdString(bytes));
    signedRecord.set_signature(signature.constData(), std::size_t(signature.size()));
    return QByteArray::fromStdString(signedRecord.SerializeAsString());
}

Result<proto::ServerRecord> verifyRecord(const QByteArray &signedBytes, std::int64_t nowMs)
{
    if (signedBytes.size() > kMaxRecordBytes)
        return invalid("larger than " + std::to_string(kMaxRecordBytes) + " bytes");
    proto::SignedRecord signedRecord;
    if (!signedRecord.ParseFromArray(signedBytes.constData(), int(signedBytes.size())))
        return invalid("not a signed record");
    const QByteArray publicKey = QByteArray::fromStdString(signedRecord.public_key());
    const QByteArray body = QByteArray::fromStdString(signedRecord.record());
    if (!verifyEd25519(publicKey, body, QByteArray::fromStdString(signedRecord.signature())))
        return invalid("bad signature");
    proto::ServerRecord record;
    if (!record.ParseFromString(signedRecord.record()))
        return invalid("malformed body");
    if (record.peer_id() != peerIdFromPublicKey(publicKey))
        return invalid("peer id " + record.peer_id() + " does not belong to the signing key");
    if (auto checked = checkFields(record, nowMs); !checked)
        return checked.error();
    return record;
}

const char *serverStateName(proto::ServerState state)
{
    switch (state) {
    case proto::STATE_JOINING: return "joining";
    case proto::STATE_ONLINE: return "online";
    case proto::STATE_OFFLINE: return "offline";
    default: return "unknown";
    }
}

} // namespace corolla
