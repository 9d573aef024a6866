#pragma once
// Hidden states and span inputs of a client's request, decoded and checked before any work
// is done for them (the checks without tensors are in requestlimits.h).
// Thread: any.

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "server/requestlimits.h"

namespace corolla {

// Decodes hidden states and checks them: [batch, T, hiddenSize] within the limits. The shape
// is checked before anything is allocated.
Result<at::Tensor> checkedHidden(const proto::Tensor &wire, std::int64_t hiddenSize,
                                 const ServerLimits &limits);

// Decodes deep prompts for `blocks` blocks and `batch` sequences and checks them:
// [blocks, batch or 1, prefix, hiddenSize] with a prefix within the request limit. A request
// without prompts gives an undefined tensor.
Result<at::Tensor> checkedPrompts(bool present, const proto::Tensor &wire, std::int64_t blocks,
                                  std::int64_t batch, std::int64_t hiddenSize,
                                  const ServerLimits &limits);

// A Forward or Backward call, checked: blocks [start, end) of the served span, hidden states
// and their lengths, for Backward the gradients of the outputs (the hidden states' shape),
// the deep prompts of the blocks when there are any, and the codec to answer in.
struct SpanCall {
    std::int64_t start = 0, end = 0;
    at::Tensor hidden;
    std::vector<std::int64_t> lengths;
    at::Tensor prompts;    // undefined without prompts
    at::Tensor gradOutput; // Backward only; undefined for Forward
    proto::Codec replyCodec = proto::CODEC_FP32;
    std::string adapter; // the LoRA adapter asked for; empty: none

    bool isBackward() const { return gradOutput.defined(); }
};
// `request` must hold a Forward or a Backward call.
Result<SpanCall> checkedSpanCall(const proto::Request &request, std::int64_t servedBegin,
                                 std::int64_t servedEnd, std::int64_t hiddenSize,
                                 const ServerLimits &limits);

} // namespace corolla
