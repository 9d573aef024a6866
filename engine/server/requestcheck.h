#pragma once
// Hidden states and span inputs of a client's request, decoded and checked before any work
// is done for them (the checks without tensors are in requestlimits.h).
// Thread: any.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "server/requestlimits.h"

namespace corolla {

// Decodes hidden states and checks them: [batch, T, hiddenSize] within the limits. The shape
// is checked before anything is allocated.
Result<at::Tensor> checkedHidden(const proto::Tensor &wire, std::int64_t hiddenSize,
                                 const ServerLimits &limits);

// What Forward and Backward both take: blocks [start, end) of the served span, hidden states
// and their lengths, and a known reply codec, all checked.
struct SpanInput {
    std::int64_t start = 0, end = 0;
    at::Tensor hidden;
    std::vector<std::int64_t> lengths;
};
Result<SpanInput> checkedSpanInput(std::int64_t start, std::int64_t end, const proto::Tensor &hidden,
                                   const google::protobuf::RepeatedField<std::int64_t> &lengths,
                                   proto::Codec replyCodec, std::int64_t servedBegin, std::int64_t servedEnd,
                                   std::int64_t hiddenSize, const ServerLimits &limits);

} // namespace corolla
