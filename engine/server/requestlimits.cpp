#include "server/requestlimits.h"

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
        return invalid("empty block range [" + std::to_string(start) + ", " + std::to_string(end)
                       + ")");
    if (start < servedBegin || end > servedEnd)
        return makeError(ErrorCode::NotFound, "blocks [" + std::to_string(start) + ", "
                                                  + std::to_string(end)
                                                  + ") are not all served here; this server holds ["
                                                  + std::to_string(servedBegin) + ", "
                                                  + std::to_string(servedEnd) + ")");
    return {};
}

Result<void> checkHiddenShape(const std::vector<std::int64_t> &shape, std::int64_t hiddenSize,
                              const ServerLimits &limits)
{
    if (shape.size() != 3 || shape[2] != hiddenSize)
        return invalid("hidden states must have the shape [batch, tokens, "
                       + std::to_string(hiddenSize) + "]");
    if (shape[0] < 1 || shape[0] > limits.maxBatch)
        return invalid("batch of " + std::to_string(shape[0])
                       + " sequences; this server takes 1 to " + std::to_string(limits.maxBatch));
    if (shape[1] < 1)
        return invalid("hidden states hold no positions");
    if (shape[0] * shape[1] > limits.maxTokensPerRequest)
        return invalid("more than " + std::to_string(limits.maxTokensPerRequest)
                       + " tokens in one request");
    return {};
}

Result<std::vector<std::int64_t>>
checkedLengths(const google::protobuf::RepeatedField<std::int64_t> &lengths, std::int64_t batch,
               std::int64_t positions)
{
    if (lengths.empty())
        return std::vector<std::int64_t>(std::size_t(batch), positions);
    if (lengths.size() != batch)
        return invalid(std::to_string(lengths.size()) + " lengths for a batch of "
                       + std::to_string(batch));
    std::vector<std::int64_t> result(lengths.begin(), lengths.end());
    for (std::int64_t length : result)
        if (length < 0 || length > positions)
            return invalid("sequence length " + std::to_string(length) + " outside [0, "
                           + std::to_string(positions) + "]");
    return result;
}

Result<void> checkOpenSession(const proto::OpenSessionRequest &request, std::int64_t servedBegin,
                              std::int64_t servedEnd, const ServerLimits &limits)
{
    if (auto blocks = checkBlocks(request.start(), request.end(), servedBegin, servedEnd); !blocks)
        return blocks.error();
    if (request.batch() < 1 || request.batch() > limits.maxBatch || request.max_length() < 1
        || request.max_length() > limits.maxSessionLength)
        return invalid("a session takes 1 to " + std::to_string(limits.maxBatch)
                       + " sequences of 1 to " + std::to_string(limits.maxSessionLength)
                       + " tokens");
    return checkReplyCodec(request.reply_codec());
}

Result<void> checkReplyCodec(proto::Codec requested)
{
    if (!proto::Codec_IsValid(requested))
        return invalid("unknown reply codec " + std::to_string(requested));
    return {};
}

proto::Codec replyCodec(proto::Codec requested, proto::Codec sent)
{
    return requested == proto::CODEC_UNSPECIFIED ? sent : requested;
}

} // namespace corolla
