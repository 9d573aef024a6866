#pragma once
// Server records: what a server announces about itself, signed with its identity key.
// A record is trusted only after verifyRecord(): the signature checks against the key it
// carries, that key hashes to the record's peer id, it has not expired, and every field is
// in range. Anything else is dropped.
// Thread: any; pure functions.

#include <cstdint>
#include <string>

#include <QByteArray>

#include "core/clock.h"
#include "core/result.h"
#include "net/corolla.pb.h"

namespace corolla {

class PeerIdentity;

constexpr std::int64_t kMaxRecordBytes = 8192;
constexpr int kMaxRecordAddresses = 16;
// A record may not claim to live longer than this past its announcement.
constexpr std::int64_t kMaxRecordLifetimeMs = 150 * 1000; // two periods of at most 60 s, and slack

// The serialized SignedRecord for `record`.
QByteArray signRecord(const proto::ServerRecord &record, const PeerIdentity &identity);

// The record inside serialized SignedRecord bytes, if it is genuine and alive at nowMs.
Result<proto::ServerRecord> verifyRecord(const QByteArray &signedRecord, std::int64_t nowMs);

const char *serverStateName(proto::ServerState state);

} // namespace corolla
