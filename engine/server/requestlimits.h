#pragma once
// The checks of a client's request that need no tensors: block ranges, shapes, lengths and
// session parameters against the served span and the server's limits. Errors use
// InvalidArgument for malformed requests, NotFound for blocks this server does not hold
// and ResourceExhausted for limits of the moment; toErrorKind() maps them to the wire.
// Thread: any; pure functions.

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "net/corolla.pb.h"
#include "server/blockserver.h"

namespace corolla {

proto::ErrorKind toErrorKind(ErrorCode code);

// [start, end) inside [servedBegin, servedEnd).
Result<void> checkBlocks(std::int64_t start, std::int64_t end, std::int64_t servedBegin,
                         std::int64_t servedEnd);

// A hidden-state shape: [batch, T, hiddenSize] with batch and batch x T within the limits.
Result<void> checkHiddenShape(const std::vector<std::int64_t> &shape, std::int64_t hiddenSize,
                              const ServerLimits &limits);

// Per-sequence lengths: empty means every sequence uses all T positions.
Result<std::vector<std::int64_t>>
checkedLengths(const google::protobuf::RepeatedField<std::int64_t> &lengths, std::int64_t batch,
               std::int64_t positions);

// An OpenSession request: blocks of the served span, a batch and length within the limits,
// a known reply codec. Whether the cache has room is the server's business of the moment.
Result<void> checkOpenSession(const proto::OpenSessionRequest &request, std::int64_t servedBegin,
                              std::int64_t servedEnd, const ServerLimits &limits);

// A reply codec a client asked for: one of the codecs, or unspecified.
Result<void> checkReplyCodec(proto::Codec requested);
// The codec of replies: what the client asked for, else the codec it sent.
proto::Codec replyCodec(proto::Codec requested, proto::Codec sent);

} // namespace corolla
