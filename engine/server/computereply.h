#pragma once
// How the block server turns work on its compute queue into replies: the work runs on the
// compute thread with what torch may throw caught, and its response comes back to the engine
// thread; tensors go into responses in the codec asked for.
// Thread: computeThenReply() on the engine thread; the work on the compute thread.

#include <exception>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "core/result.h"
#include "net/corolla.pb.h"
#include "net/queuedcall.h"
#include "server/computequeue.h"
#include "wire/wiretensor.h"

namespace corolla {

// Runs `work` on the compute thread, catching what torch may throw, and hands the response
// back to the engine thread.
template <typename Work, typename Done>
void computeThenReply(ComputeQueue &queue, ComputeQueue::Priority priority, QObject *receiver,
                      Work work, Done done)
{
    queue.post(priority, [receiver, work = std::move(work), done = std::move(done)]() mutable {
        Result<proto::Response> response = makeError(ErrorCode::Internal, "no result");
        try {
            response = work();
        } catch (const c10::Error &error) {
            response = makeError(ErrorCode::Internal,
                                 std::string("compute failed: ") + error.what_without_backtrace());
        } catch (const std::exception &error) {
            response =
                makeError(ErrorCode::Internal, std::string("compute failed: ") + error.what());
        }
        postTo(receiver, [done = std::move(done), response = std::move(response)]() mutable {
            done(std::move(response));
        });
    });
}

// Where a tensor goes in a response.
using TensorField = proto::Tensor *(*)(proto::Response &);

// A response holding `output` in `codec` at `field`, or the error.
inline Result<proto::Response> tensorResponse(const Result<at::Tensor> &output, proto::Codec codec,
                                              TensorField field)
{
    if (!output)
        return output.error();
    auto wire = tensorToWire(*output, codec);
    if (!wire)
        return wire.error();
    proto::Response response;
    *field(response) = std::move(*wire);
    return response;
}

} // namespace corolla
