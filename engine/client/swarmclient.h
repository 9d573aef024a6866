#pragma once
// The client's link to a swarm: a network thread with its own event loop that owns the
// registries (a SwarmWatcher) and one connection per server, and a blocking API for the
// thread that drives generation. Sessions and generation stay plain sequential code; the
// sockets never wait for them.
// Thread: construct on any thread but the network thread; the methods may be called from
// several such threads at once (every shared member is behind m_mutex or posted to the
// network thread). A ClientStream belongs to the one thread that uses it.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include <QThread>

#include "client/routeplanner.h"
#include "core/result.h"
#include "net/corolla.pb.h"
#include "swarm/swarmwatcher.h"

namespace corolla {

class ClientNetwork;

// One stream call (an inference session) on a server. send() does not wait; receive()
// returns the responses in order. A stream must not outlive the SwarmClient that made it.
class ClientStream {
public:
    ~ClientStream(); // stops listening to the call

    void send(const proto::Request &request);
    // The next response, or an error when the connection failed or none came in timeoutMs;
    // a Cancelled error as soon as `stop` is requested. Errors name the server's peer id.
    Result<proto::Response> receive(int timeoutMs, const std::stop_token &stop = {});

private:
    friend class SwarmClient;
    struct Inbox {
        std::mutex mutex;
        std::condition_variable_any arrived;
        std::deque<Result<proto::Response>> responses;
    };
    // Network-thread state of the call: 0 until the first request opens it.
    struct Call {
        std::uint64_t id = 0;
        bool failed = false;
    };
    ClientStream(ClientNetwork *network, proto::ServerRecord server);

    ClientNetwork *m_network;
    proto::ServerRecord m_server;
    std::shared_ptr<Inbox> m_inbox = std::make_shared<Inbox>();
    std::shared_ptr<Call> m_call = std::make_shared<Call>(); // touched on the network thread only
};

class SwarmClient {
public:
    using WatcherFactory = std::function<Result<std::unique_ptr<SwarmWatcher>>()>;

    // Starts the network thread and makes the watcher there (sockets live where they are
    // made). Fails with the factory's error.
    static Result<std::unique_ptr<SwarmClient>> start(WatcherFactory factory, int refreshMs = 2000);
    ~SwarmClient();

    const std::string &modelId() const { return m_modelId; }

    // The servers of the model that are joining or online, as last seen.
    std::vector<proto::ServerRecord> servers() const;
    // Waits until `ready` holds for the servers seen, or timeoutMs passes; the last result.
    bool waitForServers(const std::function<bool(const std::vector<proto::ServerRecord> &)> &ready,
                        int timeoutMs);
    void refreshNow();

    Result<proto::Response> call(const proto::ServerRecord &server, const proto::Request &request,
                                 int timeoutMs);
    std::unique_ptr<ClientStream> openStream(const proto::ServerRecord &server);

    // Pings the servers (in parallel, waiting at most timeoutMs) and keeps smoothed RTTs; a
    // server whose connection fails (refused, reset, another peer) counts as failed
    // (reportFailure). One that only stays silent is not: it may be busy.
    void measureRtts(const std::vector<proto::ServerRecord> &servers, int timeoutMs);
    double rttMs(const std::string &peerId) const; // negative when unknown

    // A failed server is avoided for a while, twice as long after each further failure, or
    // until it announces other addresses (it restarted or moved).
    void reportFailure(const std::string &peerId);
    bool isBanned(const std::string &peerId) const;
    int recentFailures(const std::string &peerId) const;

    // The online, unbanned servers of a model of `numBlocks` blocks, as route planning sees
    // them (announced rates and cache, measured RTT, recent failures).
    // With `adapter`, only the servers that announce that LoRA adapter.
    std::vector<ServerCandidate> candidates(std::int64_t numBlocks,
                                            const std::string &adapter = {}) const;

private:
    SwarmClient() = default;
    void onSwarmChanged(std::vector<proto::ServerRecord> servers);

    QThread m_thread;
    ClientNetwork *m_network = nullptr; // lives on m_thread
    std::string m_modelId;

    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<proto::ServerRecord> m_servers;
    std::map<std::string, double> m_rttMs;
    struct Failures {
        int count = 0;
        std::int64_t bannedUntilMs = 0;
        std::vector<std::string> addresses; // announced when it failed
    };
    std::map<std::string, Failures> m_failures;
};

} // namespace corolla
