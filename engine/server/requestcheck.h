#pragma once
// Checks of everything a client sends, before any work is done for it. Errors use
// InvalidArgument for malformed requests, NotFound for blocks this server does not hold
// and ResourceExhausted for limits of the moment; toErrorKind() maps them to the wire.
// Thread: any.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/result.h"
#include "net/corolla.pb.h"
#include "server/blockserver.h"

namespace corolla {

proto::ErrorKind toErrorKind(ErrorCode code);

// [start, end) inside [servedBegin, servedEnd).
Result<void> checkBlocks(std::int64_t start, std::int64_t end, std::int64_t servedBegin,
                         std::int64_t servedEnd);

// Decodes hidden states and checks them: [batch, T, hiddenSize] within the limits.
Result<at::Tensor> checkedHidden(const proto::Tensor &wire, std::int64_t hiddenSize,
                                 const ServerLimits &limits);

// Per-sequence lengths: empty means every sequence uses all T positions.
Result<std::vector<std::int64_t>> checkedLengths(const google::protobuf::RepeatedField<std::int64_t> &lengths,
                                                 std::int64_t batch, std::int64_t positions);

// What Forward and Backward both take: blocks [start, end) of the served span, hidden states
// and their lengths, all checked.
struct SpanInput {
    std::int64_t start = 0, end = 0;
    at::Tensor hidden;
    std::vector<std::int64_t> lengths;
};
Result<SpanInput> checkedSpanInput(std::int64_t start, std::int64_t end, const proto::Tensor &hidden,
                                   const google::protobuf::RepeatedField<std::int64_t> &lengths,
                                   std::int64_t servedBegin, std::int64_t servedEnd,
                                   std::int64_t hiddenSize, const ServerLimits &limits);

// The codec of replies: what the client asked for, else the codec it sent.
proto::Codec replyCodec(proto::Codec requested, proto::Codec sent);

} // namespace corolla
