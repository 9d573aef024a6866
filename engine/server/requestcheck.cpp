#include "server/requestcheck.h"

#include "server/wiretensor.h"

namespace corolla {

namespace {

Error invalid(const std::string &message)
{
    return makeError(ErrorCode::InvalidArgument, message);
}

} // namespace

proto::ErrorKind toErrorKind(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidArgument:
    case ErrorCode::Format: return proto::ERROR_INVALID_REQUEST;
    case ErrorCode::NotFound: return proto::ERROR_NOT_SERVED;
    case ErrorCode::ResourceExhausted: return proto::ERROR_BUSY;
    default: return proto::ERROR_INTERNAL;
    }
}

Result<void> checkBlocks(std::int64_t start, std::int64_t end, std::int64_t servedBegin,
                         std::int64_t servedEnd)
{
    if (start >= end)
        return invalid("empty block range [" + std::to_string(start) + ", " + std::to_string(end) + ")");
    if (start < servedBegin || end > servedEnd)
        return makeError(ErrorCode::NotFound, "blocks [" + std::to_string(start) + ", "
                                                  + std::to_string(end) + ") are not all served here; this server holds ["
                                                  + std::to_string(servedBegin) + ", "
                                                  + std::to_string(servedEnd) + ")");
    return {};
}

Result<at::Tensor> checkedHidden(const proto::Tensor &wire, std::int64_t hiddenSize,
                                 const ServerLimits &limits)
{
    auto hidden = tensorFromWire(wire, limits.maxTokensPerRequest * hiddenSize);
    if (!hidden)
        return makeError(ErrorCode::InvalidArgument, "hidden states: " + hidden.error().message);
    const at::Tensor &x = *hidden;
    if (x.dim() != 3 || x.size(2) != hiddenSize)
        return invalid("hidden states must have the shape [batch, tokens, " + std::to_string(hiddenSize) + "]");
    if (x.size(0) < 1 || x.size(0) > limits.maxBatch)
        return invalid("batch of " + std::to_string(x.size(0)) + " sequences; this server takes 1 to "
                       + std::to_string(limits.maxBatch));
    if (x.size(1) < 1)
        return invalid("hidden states hold no positions");
    if (x.size(0) * x.size(1) > limits.maxTokensPerRequest)
        return invalid("more than " + std::to_string(limits.maxTokensPerRequest) + " tokens in one request");
    return hidden;
}

Result<std::vector<std::int64_t>> checkedLengths(const google::protobuf::RepeatedField<std::int64_t> &lengths,
                                                 std::int64_t batch, std::int64_t positions)
{
    if (lengths.empty())
        return std::vector<std::int64_t>(std::size_t(batch), positions);
    if (lengths.size() != batch)
        return invalid(std::to_string(lengths.size()) + " lengths for a batch of " + std::to_string(batch));
    std::vector<std::int64_t> result(lengths.begin(), lengths.end());
    for (std::int64_t length : result)
        if (length < 0 || length > positions)
            return invalid("sequence length " + std::to_string(length) + " outside [0, "
                           + std::to_string(positions) + "]");
    return result;
}

Result<SpanInput> checkedSpanInput(std::int64_t start, std::int64_t end, const proto::Tensor &hidden,
                                   const google::protobuf::RepeatedField<std::int64_t> &lengths,
                                   std::int64_t servedBegin, std::int64_t servedEnd,
                                   std::int64_t hiddenSize, const ServerLimits &limits)
{
    if (auto blocks = checkBlocks(start, end, servedBegin, servedEnd); !blocks)
        return blocks.error();
    auto x = checkedHidden(hidden, hiddenSize, limits);
    if (!x)
        return x.error();
    auto checkedLengthsOf = checkedLengths(lengths, x->size(0), x->size(1));
    if (!checkedLengthsOf)
        return checkedLengthsOf.error();
    return SpanInput{start, end, std::move(*x), std::move(*checkedLengthsOf)};
}

proto::Codec replyCodec(proto::Codec requested, proto::Codec sent)
{
    return requested == proto::CODEC_UNSPECIFIED ? sent : requested;
}

} // namespace corolla
