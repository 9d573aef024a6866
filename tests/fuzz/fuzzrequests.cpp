// libFuzzer target: the checks that every request meets before a block server does any
// work for it, as the server runs them (engine/server/requestlimits, and the tensor codec
// for hidden states), against a server of blocks [2, 6) of a model with hidden size 8.
// Whatever passes is within the span and the limits and decodes to finite values.

#include <cmath>
#include <cstdint>

#include "fuzzseeds.h"
#include "net/corolla.pb.h"
#include "net/tensorcodec.h"
#include "server/requestlimits.h"

using namespace corolla;

namespace {

constexpr std::int64_t kServedBegin = 2, kServedEnd = 6, kHiddenSize = 8;

ServerLimits limits()
{
    ServerLimits limits;
    limits.maxBatch = 4;
    limits.maxTokensPerRequest = 256;
    limits.maxSessionLength = 512;
    return limits;
}

// Hidden states as checkedHidden() takes them: the shape first, then the values.
bool checkHidden(const proto::Tensor &wire)
{
    const ServerLimits limit = limits();
    auto shape = checkTensor(wire, limit.maxTokensPerRequest * kHiddenSize);
    if (!shape || !checkHiddenShape(*shape, kHiddenSize, limit))
        return false;
    if (shape->size() != 3 || (*shape)[2] != kHiddenSize || (*shape)[0] < 1
        || (*shape)[0] > limit.maxBatch || (*shape)[1] < 1
        || (*shape)[0] * (*shape)[1] > limit.maxTokensPerRequest)
        fuzz::violated("hidden states outside the limits passed");
    std::vector<float> values(std::size_t((*shape)[0] * (*shape)[1] * kHiddenSize));
    if (!decodeTensorInto(wire, values))
        return false;
    for (float value : values)
        if (!std::isfinite(value))
            fuzz::violated("non-finite hidden states passed");
    return true;
}

// Forward and backward inputs as checkedSpanCall() checks them.
void checkSpanInput(std::int64_t start, std::int64_t end, const proto::Tensor &hidden,
                    const google::protobuf::RepeatedField<std::int64_t> &lengths,
                    proto::Codec replyCodec)
{
    if (!checkBlocks(start, end, kServedBegin, kServedEnd) || !checkReplyCodec(replyCodec)
        || !checkHidden(hidden))
        return;
    if (start < kServedBegin || end > kServedEnd || start >= end)
        fuzz::violated("a block range outside the span passed");
    const std::int64_t batch = hidden.shape(0), positions = hidden.shape(1);
    auto checked = checkedLengths(lengths, batch, positions);
    if (!checked)
        return;
    if (std::int64_t(checked->size()) != batch)
        fuzz::violated("lengths do not match the batch");
    for (std::int64_t length : *checked)
        if (length < 0 || length > positions)
            fuzz::violated("a length outside [0, T] passed");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    const QString folder = fuzz::seedFolder();
    if (folder.isEmpty())
        return 0;
    std::vector<float> values(2 * 3 * kHiddenSize, 0.5f);
    const proto::Tensor hidden = *encodeTensor(values, {2, 3, kHiddenSize}, proto::CODEC_FP32);
    proto::Request forward;
    forward.mutable_forward()->set_start(2);
    forward.mutable_forward()->set_end(5);
    *forward.mutable_forward()->mutable_hidden() = hidden;
    forward.mutable_forward()->add_lengths(3);
    forward.mutable_forward()->add_lengths(1);
    fuzz::writeSeed(folder, QStringLiteral("forward"), forward.SerializeAsString());
    proto::Request backward;
    backward.mutable_backward()->set_start(3);
    backward.mutable_backward()->set_end(6);
    *backward.mutable_backward()->mutable_hidden() = hidden;
    *backward.mutable_backward()->mutable_grad_output() = hidden;
    fuzz::writeSeed(folder, QStringLiteral("backward"), backward.SerializeAsString());
    proto::Request open;
    open.mutable_open_session()->set_start(2);
    open.mutable_open_session()->set_end(6);
    open.mutable_open_session()->set_batch(1);
    open.mutable_open_session()->set_max_length(128);
    open.mutable_open_session()->set_reply_codec(proto::CODEC_BF16);
    fuzz::writeSeed(folder, QStringLiteral("open"), open.SerializeAsString());
    proto::Request step;
    *step.mutable_step()->mutable_hidden() = *encodeTensor(std::vector<float>(kHiddenSize, 1.0f),
                                                           {1, 1, kHiddenSize}, proto::CODEC_BF16);
    fuzz::writeSeed(folder, QStringLiteral("step"), step.SerializeAsString());
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    proto::Request request;
    if (!request.ParseFromArray(data, int(size)))
        return 0;
    const ServerLimits limit = limits();
    switch (request.body_case()) {
    case proto::Request::kForward: {
        const proto::ForwardRequest &forward = request.forward();
        checkSpanInput(forward.start(), forward.end(), forward.hidden(), forward.lengths(),
                       forward.reply_codec());
        break;
    }
    case proto::Request::kBackward: {
        const proto::BackwardRequest &backward = request.backward();
        checkSpanInput(backward.start(), backward.end(), backward.hidden(), backward.lengths(),
                       backward.reply_codec());
        checkHidden(backward.grad_output());
        break;
    }
    case proto::Request::kOpenSession: {
        const proto::OpenSessionRequest &open = request.open_session();
        if (checkOpenSession(open, kServedBegin, kServedEnd, limit)
            && (open.start() < kServedBegin || open.end() > kServedEnd || open.start() >= open.end()
                || open.batch() < 1 || open.batch() > limit.maxBatch || open.max_length() < 1
                || open.max_length() > limit.maxSessionLength
                || !proto::Codec_IsValid(open.reply_codec())))
            fuzz::violated("an open request outside the limits passed");
        break;
    }
    case proto::Request::kStep: checkHidden(request.step().hidden()); break;
    default: break;
    }
    return 0;
}
