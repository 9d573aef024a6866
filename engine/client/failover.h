#pragma once
// What a client operation does when a server fails it: the error names the peer, the peer is
// banned for a while (so the next plan avoids it), and after too many failed servers the
// operation gives up with the last failure.
// Thread: the thread of the operation it counts for.

#include <optional>
#include <string>

#include "core/error.h"

namespace corolla {

class SwarmClient;

// `error`, marked as the failure of `peerId` (Error::peerId) and named after it, unless it
// already names a peer.
Error peerFailure(Error error, const std::string &peerId);

class FailoverBudget {
public:
    FailoverBudget(SwarmClient &client, int maxFailovers)
        : m_client(client)
        , m_max(maxFailovers)
    {
    }

    // Bans the peer of `failure` and counts it. Returns the error to end the operation with:
    // past maxFailovers, one that gives up quoting `failure`; at once, a failure no other
    // server would fix (a cancellation, or one of this side's own, which names no peer).
    std::optional<Error> spend(const Error &failure);
    int spent() const { return m_spent; }

private:
    SwarmClient &m_client;
    int m_max;
    int m_spent = 0;
};

} // namespace corolla
