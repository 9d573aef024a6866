#include "client/failover.h"

#include "client/swarmclient.h"
#include "net/identity.h"

namespace corolla {

Error peerFailure(Error error, const std::string &peerId)
{
    if (error.peerId.empty()) {
        error.message = "peer " + shortPeerId(peerId) + ": " + error.message;
        error.peerId = peerId;
    }
    return error;
}

std::optional<Error> FailoverBudget::spend(const Error &failure)
{
    if (failure.code == ErrorCode::Cancelled || failure.peerId.empty())
        return failure;
    m_client.reportFailure(failure.peerId);
    if (++m_spent <= m_max)
        return std::nullopt;
    Error error = makeError(ErrorCode::Io, "gave up after " + std::to_string(m_max)
                                               + " failed servers; the last: " + failure.message);
    error.peerId = failure.peerId;
    return error;
}

} // namespace corolla
