#include "server/requestcheck.h"

#include "net/tensorcodec.h"
#include "wire/wiretensor.h"

namespace corolla {

Result<at::Tensor> checkedHidden(const proto::Tensor &wire, std::int64_t hiddenSize,
                                 const ServerLimits &limits)
{
    auto shape = checkTensor(wire, limits.maxTokensPerRequest * hiddenSize);
    if (!shape)
        return makeError(ErrorCode::InvalidArgument, "hidden states: " + shape.error().message);
    if (auto checked = checkHiddenShape(*shape, hiddenSize, limits); !checked)
        return checked.error();
    auto hidden = tensorFromWire(wire, limits.maxTokensPerRequest * hiddenSize);
    if (!hidden)
        return makeError(ErrorCode::InvalidArgument, "hidden states: " + hidden.error().message);
    return hidden;
}

Result<at::Tensor> checkedPrompts(bool present, const proto::Tensor &wire, std::int64_t blocks,
                                  std::int64_t batch, std::int64_t hiddenSize,
                                  const ServerLimits &limits)
{
    if (!present)
        return at::Tensor();
    const std::int64_t maxElements = blocks * batch * limits.maxTokensPerRequest * hiddenSize;
    auto shape = checkTensor(wire, maxElements);
    if (!shape)
        return makeError(ErrorCode::InvalidArgument, "prompts: " + shape.error().message);
    const std::vector<std::int64_t> &dims = *shape;
    if (dims.size() != 4 || dims[0] != blocks || (dims[1] != batch && dims[1] != 1) || dims[2] < 1
        || dims[2] > limits.maxTokensPerRequest || dims[3] != hiddenSize)
        return makeError(ErrorCode::InvalidArgument,
                         "prompts must be [" + std::to_string(blocks) + " blocks, "
                             + std::to_string(batch) + " sequences or 1, prefix of 1 to "
                             + std::to_string(limits.maxTokensPerRequest) + ", "
                             + std::to_string(hiddenSize) + "]");
    auto prompts = tensorFromWire(wire, maxElements);
    if (!prompts)
        return makeError(ErrorCode::InvalidArgument, "prompts: " + prompts.error().message);
    return prompts;
}

namespace {

// The fields Forward and Backward share.
template <typename SpanRequest>
Result<SpanCall> checkedSpanFields(const SpanRequest &request, std::int64_t servedBegin,
                                   std::int64_t servedEnd, std::int64_t hiddenSize,
                                   const ServerLimits &limits)
{
    if (auto blocks = checkBlocks(request.start(), request.end(), servedBegin, servedEnd); !blocks)
        return blocks.error();
    if (auto codec = checkReplyCodec(request.reply_codec()); !codec)
        return codec.error();
    auto hidden = checkedHidden(request.hidden(), hiddenSize, limits);
    if (!hidden)
        return hidden.error();
    auto lengths = checkedLengths(request.lengths(), hidden->size(0), hidden->size(1));
    if (!lengths)
        return lengths.error();
    auto prompts =
        checkedPrompts(request.has_prompts(), request.prompts(), request.end() - request.start(),
                       hidden->size(0), hiddenSize, limits);
    if (!prompts)
        return prompts.error();
    return SpanCall{request.start(),
                    request.end(),
                    std::move(*hidden),
                    std::move(*lengths),
                    std::move(*prompts),
                    {},
                    replyCodec(request.reply_codec(), request.hidden().codec()),
                    request.adapter()};
}

} // namespace

Result<SpanCall> checkedSpanCall(const proto::Request &request, std::int64_t servedBegin,
                                 std::int64_t servedEnd, std::int64_t hiddenSize,
                                 const ServerLimits &limits)
{
    if (request.has_forward())
        return checkedSpanFields(request.forward(), servedBegin, servedEnd, hiddenSize, limits);
    if (!request.has_backward())
        return makeError(ErrorCode::InvalidArgument, "expected a forward or backward call");
    const proto::BackwardRequest &backward = request.backward();
    auto call = checkedSpanFields(backward, servedBegin, servedEnd, hiddenSize, limits);
    if (!call)
        return call;
    auto grad = checkedHidden(backward.grad_output(), hiddenSize, limits);
    if (!grad)
        return grad.error();
    if (!grad->sizes().equals(call->hidden.sizes()))
        return makeError(ErrorCode::InvalidArgument, "output gradients and inputs differ in shape");
    call->gradOutput = std::move(*grad);
    call->replyCodec = replyCodec(backward.reply_codec(), backward.grad_output().codec());
    return call;
}

} // namespace corolla
