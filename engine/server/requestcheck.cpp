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

Result<SpanInput> checkedSpanInput(std::int64_t start, std::int64_t end, const proto::Tensor &hidden,
                                   const google::protobuf::RepeatedField<std::int64_t> &lengths,
                                   proto::Codec replyCodec, std::int64_t servedBegin, std::int64_t servedEnd,
                                   std::int64_t hiddenSize, const ServerLimits &limits)
{
    if (auto blocks = checkBlocks(start, end, servedBegin, servedEnd); !blocks)
        return blocks.error();
    if (auto codec = checkReplyCodec(replyCodec); !codec)
        return codec.error();
    auto x = checkedHidden(hidden, hiddenSize, limits);
    if (!x)
        return x.error();
    auto checkedLengthsOf = checkedLengths(lengths, x->size(0), x->size(1));
    if (!checkedLengthsOf)
        return checkedLengthsOf.error();
    return SpanInput{start, end, std::move(*x), std::move(*checkedLengthsOf)};
}

} // namespace corolla
