#include "client/swarmclient.h"

#include <algorithm>
#include <future>

#include <QDateTime>
#include <QElapsedTimer>
#include <QPointer>

#include "net/hostport.h"
#include "net/queuedcall.h"
#include "net/rpcchannel.h"
#include "swarm/serverrecord.h"

namespace corolla {

namespace {

constexpr std::int64_t kFirstBanMs = 2000;
constexpr std::int64_t kLongestBanMs = 5 * 60 * 1000;
constexpr double kRttSmoothing = 0.3; // weight of a new sample
// The network side answers late calls by itself; the caller's own wait is what counts.
constexpr int kChannelSlackMs = 1000;

std::int64_t nowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

std::vector<std::string> addressesOf(const proto::ServerRecord &server)
{
    return {server.addresses().begin(), server.addresses().end()};
}

} // namespace

// The objects of the network thread: the watcher and one channel per server.
class ClientNetwork : public QObject {
public:
    std::unique_ptr<SwarmWatcher> watcher;
    std::map<std::string, RpcChannel *> channels;
    std::map<std::string, int> nextAddress; // which address to try, per peer

    // The channel to `server`; a closed one is replaced, trying its next address.
    RpcChannel *channel(const proto::ServerRecord &server)
    {
        auto it = channels.find(server.peer_id());
        if (it != channels.end() && !it->second->isClosed())
            return it->second;
        if (it != channels.end()) {
            it->second->deleteLater();
            channels.erase(it);
        }
        if (server.addresses_size() == 0)
            return nullptr;
        const int index = nextAddress[server.peer_id()]++ % server.addresses_size();
        auto address = parseHostPort(server.addresses(index));
        if (!address)
            return nullptr;
        auto *channel = new RpcChannel(QString::fromStdString(address->first), address->second,
                                       server.peer_id(), this);
        channels[server.peer_id()] = channel;
        return channel;
    }

    // Starts a call (`start` issues it on a channel) to `server`. When the channel's connection
    // fails before it was ever ready — refused, another peer at that address, a handshake that
    // timed out — the call starts again on the server's next address, once per address.
    using Starter = std::function<std::uint64_t(RpcChannel *, RpcChannel::Handler)>;
    void startWithFallback(const proto::ServerRecord &server, Starter start,
                           RpcChannel::Handler handler,
                           std::function<void(std::uint64_t)> onStarted, int attemptsLeft)
    {
        RpcChannel *target = channel(server);
        if (!target) {
            handler(
                makeError(ErrorCode::Io, "peer " + server.peer_id() + " has no usable address"));
            return;
        }
        const std::uint64_t callId =
            start(target, [this, server, start, handler, onStarted, attemptsLeft,
                           guard = QPointer<RpcChannel>(target)](Result<proto::Response> response) {
                if (!response && guard && !guard->connection()->wasEverReady()
                    && attemptsLeft > 1) {
                    startWithFallback(server, start, handler, onStarted, attemptsLeft - 1);
                    return;
                }
                handler(std::move(response));
            });
        onStarted(callId);
    }
};

// ---- ClientStream ---------------------------------------------------------------------

ClientStream::ClientStream(ClientNetwork *network, proto::ServerRecord server)
    : m_network(network)
    , m_server(std::move(server))
{
}

ClientStream::~ClientStream()
{
    postTo(m_network, [network = m_network, peerId = m_server.peer_id(), call = m_call] {
        auto it = network->channels.find(peerId);
        if (call->id != 0 && it != network->channels.end())
            it->second->finish(call->id);
    });
}

void ClientStream::send(const proto::Request &request)
{
    postTo(m_network,
           [network = m_network, server = m_server, request, inbox = m_inbox, call = m_call] {
               auto deliver = [inbox](Result<proto::Response> response) {
                   {
                       std::lock_guard lock(inbox->mutex);
                       inbox->responses.push_back(std::move(response));
                   }
                   inbox->arrived.notify_all();
               };
               if (call->failed)
                   return; // the error is in the inbox already
               // Deadlines are the caller's business (receive's timeout); the channel only notices
               // a connection that goes away.
               constexpr int kNoDeadlineMs = 24 * 3600 * 1000;
               if (call->id == 0) {
                   network->startWithFallback(
                       server,
                       [request](RpcChannel *channel, RpcChannel::Handler handler) {
                           return channel->openStream(request, std::move(handler), kNoDeadlineMs);
                       },
                       [call, deliver](Result<proto::Response> response) {
                           if (!response)
                               call->failed = true;
                           deliver(std::move(response));
                       },
                       [call](std::uint64_t id) { call->id = id; }, server.addresses_size());
                   return;
               }
               RpcChannel *channel = network->channel(server);
               if (!channel) {
                   call->failed = true;
                   deliver(makeError(ErrorCode::Io,
                                     "peer " + server.peer_id() + " has no usable address"));
                   return;
               }
               channel->sendOnStream(call->id, request, kNoDeadlineMs);
           });
}

Result<proto::Response> ClientStream::receive(int timeoutMs, const std::stop_token &stop)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    std::unique_lock lock(m_inbox->mutex);
    // Wakes when a response arrives, the deadline passes, or `stop` is requested.
    const bool arrived = m_inbox->arrived.wait_until(
        lock, stop, deadline, [this] { return !m_inbox->responses.empty(); });
    if (!arrived) {
        Error error =
            stop.stop_requested()
                ? makeError(ErrorCode::Cancelled,
                            "stopped while waiting for peer " + m_server.peer_id())
                : makeError(ErrorCode::Timeout, "no answer from peer " + m_server.peer_id() + " in "
                                                    + std::to_string(timeoutMs) + " ms");
        error.peerId = m_server.peer_id();
        return error;
    }
    Result<proto::Response> response = std::move(m_inbox->responses.front());
    m_inbox->responses.pop_front();
    if (!response) {
        Error error = response.error();
        error.peerId = m_server.peer_id();
        return error;
    }
    return response;
}

// ---- SwarmClient ----------------------------------------------------------------------

Result<std::unique_ptr<SwarmClient>> SwarmClient::start(WatcherFactory factory, int refreshMs)
{
    auto client = std::unique_ptr<SwarmClient>(new SwarmClient);
    client->m_thread.setObjectName(QStringLiteral("swarm client"));
    client->m_thread.start();
    client->m_network = new ClientNetwork;
    client->m_network->moveToThread(&client->m_thread);

    std::promise<Result<void>> started;
    SwarmClient *self = client.get();
    postTo(client->m_network, [self, factory, refreshMs, &started] {
        auto watcher = factory();
        if (!watcher) {
            started.set_value(watcher.error());
            return;
        }
        ClientNetwork *network = self->m_network;
        network->watcher = std::move(*watcher);
        self->m_modelId = network->watcher->modelId();
        QObject::connect(network->watcher.get(), &SwarmWatcher::changed, network, [self, network] {
            self->onSwarmChanged(network->watcher->state().servers(network->watcher->modelId()));
        });
        network->watcher->start(refreshMs);
        started.set_value(Result<void>());
    });
    if (auto result = started.get_future().get(); !result)
        return result.error();
    return client;
}

SwarmClient::~SwarmClient()
{
    // The network objects go on their own thread, then the thread stops. Blocking is safe
    // here: the network thread never waits for this one.
    std::promise<void> deleted;
    postTo(m_network, [network = m_network, &deleted] {
        delete network;
        deleted.set_value();
    });
    deleted.get_future().wait();
    m_thread.quit();
    m_thread.wait();
}

void SwarmClient::onSwarmChanged(std::vector<proto::ServerRecord> servers)
{
    {
        std::lock_guard lock(m_mutex);
        // A server that announces other addresses than those that failed has restarted or
        // moved: what went wrong at the old ones is not held against it.
        for (const proto::ServerRecord &server : servers) {
            auto failed = m_failures.find(server.peer_id());
            if (failed != m_failures.end() && failed->second.addresses != addressesOf(server))
                m_failures.erase(failed);
        }
        m_servers = std::move(servers);
    }
    m_changed.notify_all();
}

std::vector<proto::ServerRecord> SwarmClient::servers() const
{
    std::lock_guard lock(m_mutex);
    return m_servers;
}

bool SwarmClient::waitForServers(
    const std::function<bool(const std::vector<proto::ServerRecord> &)> &ready, int timeoutMs)
{
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                              [&] { return ready(m_servers); });
}

void SwarmClient::refreshNow()
{
    postTo(m_network, [network = m_network] { network->watcher->refresh(); });
}

Result<proto::Response> SwarmClient::call(const proto::ServerRecord &server,
                                          const proto::Request &request, int timeoutMs)
{
    auto answer = std::make_shared<std::promise<Result<proto::Response>>>();
    auto future = answer->get_future();
    postTo(m_network, [network = m_network, server, request, answer, timeoutMs] {
        network->startWithFallback(
            server,
            [request, timeoutMs](RpcChannel *channel, RpcChannel::Handler handler) {
                return channel->call(request, std::move(handler), timeoutMs + kChannelSlackMs);
            },
            [answer](Result<proto::Response> response) { answer->set_value(std::move(response)); },
            [](std::uint64_t) {}, server.addresses_size());
    });
    if (future.wait_for(std::chrono::milliseconds(timeoutMs)) != std::future_status::ready)
        return makeError(ErrorCode::Timeout, "no answer from peer " + server.peer_id() + " in "
                                                 + std::to_string(timeoutMs) + " ms");
    try {
        return future.get();
    } catch (const std::future_error &) {
        return makeError(ErrorCode::Io,
                         "the connection to peer " + server.peer_id() + " went away");
    }
}

std::unique_ptr<ClientStream> SwarmClient::openStream(const proto::ServerRecord &server)
{
    return std::unique_ptr<ClientStream>(new ClientStream(m_network, server));
}

void SwarmClient::measureRtts(const std::vector<proto::ServerRecord> &servers, int timeoutMs)
{
    // Answered; unreachable (the connection failed: refused, reset, not the expected peer);
    // or silent (no answer in time), which may be a busy server and is not held against it.
    enum class Outcome { Answered, Silent, Unreachable };
    struct Ping {
        std::string peerId;
        std::future<Outcome> outcome;
    };
    std::vector<Ping> pings;
    for (const proto::ServerRecord &server : servers) {
        auto done = std::make_shared<std::promise<Outcome>>();
        pings.push_back({server.peer_id(), done->get_future()});
        postTo(m_network, [this, network = m_network, server, done, timeoutMs] {
            proto::Request ping;
            ping.mutable_ping()->set_client_time_us(std::uint64_t(nowMs()) * 1000);
            auto timer = std::make_shared<QElapsedTimer>();
            timer->start();
            network->startWithFallback(
                server,
                [ping, timeoutMs](RpcChannel *channel, RpcChannel::Handler handler) {
                    return channel->call(ping, std::move(handler), timeoutMs);
                },
                [this, peerId = server.peer_id(), done, timer](Result<proto::Response> response) {
                    if (!response) {
                        done->set_value(response.error().code == ErrorCode::Timeout
                                            ? Outcome::Silent
                                            : Outcome::Unreachable);
                        return;
                    }
                    if (response->has_ping()) {
                        const double sample = double(timer->nsecsElapsed()) / 1e6;
                        std::lock_guard lock(m_mutex);
                        auto it = m_rttMs.find(peerId);
                        m_rttMs[peerId] = it == m_rttMs.end() ? sample
                                                              : (1 - kRttSmoothing) * it->second
                                                                    + kRttSmoothing * sample;
                    }
                    done->set_value(response->has_ping() ? Outcome::Answered
                                                         : Outcome::Unreachable);
                },
                [](std::uint64_t) {}, server.addresses_size());
        });
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs + kChannelSlackMs);
    for (Ping &ping : pings) {
        // An unreachable server is a failed one: banned, so that routes and the next pings
        // leave it alone for a while. A silent one is left to the session's step timeout.
        Outcome outcome = Outcome::Silent;
        try {
            if (ping.outcome.wait_until(deadline) == std::future_status::ready)
                outcome = ping.outcome.get();
        } catch (const std::future_error &) {
            outcome = Outcome::Unreachable; // the channel went away with the call unanswered
        }
        if (outcome == Outcome::Unreachable)
            reportFailure(ping.peerId);
    }
}

double SwarmClient::rttMs(const std::string &peerId) const
{
    std::lock_guard lock(m_mutex);
    auto it = m_rttMs.find(peerId);
    return it == m_rttMs.end() ? -1.0 : it->second;
}

void SwarmClient::reportFailure(const std::string &peerId)
{
    std::lock_guard lock(m_mutex);
    Failures &failures = m_failures[peerId];
    auto server =
        std::find_if(m_servers.begin(), m_servers.end(),
                     [&](const proto::ServerRecord &record) { return record.peer_id() == peerId; });
    if (server != m_servers.end())
        failures.addresses = addressesOf(*server);
    ++failures.count;
    const std::int64_t ban =
        std::min(kLongestBanMs, kFirstBanMs << std::min(failures.count - 1, 20));
    failures.bannedUntilMs = nowMs() + ban;
}

bool SwarmClient::isBanned(const std::string &peerId) const
{
    std::lock_guard lock(m_mutex);
    auto it = m_failures.find(peerId);
    return it != m_failures.end() && it->second.bannedUntilMs > nowMs();
}

int SwarmClient::recentFailures(const std::string &peerId) const
{
    std::lock_guard lock(m_mutex);
    auto it = m_failures.find(peerId);
    return it == m_failures.end() ? 0 : it->second.count;
}

std::vector<ServerCandidate> SwarmClient::candidates(std::int64_t numBlocks,
                                                     const std::string &adapter) const
{
    std::vector<ServerCandidate> result;
    for (const proto::ServerRecord &server : servers()) {
        if (server.state() != proto::STATE_ONLINE || server.num_blocks() != numBlocks
            || isBanned(server.peer_id()))
            continue;
        if (!adapter.empty()
            && std::find(server.adapters().begin(), server.adapters().end(), adapter)
                   == server.adapters().end())
            continue;
        result.push_back({server.peer_id(), server.start(), server.end(), server.inference_rps(),
                          server.forward_rps(), rttMs(server.peer_id()), server.cache_tokens_left(),
                          recentFailures(server.peer_id())});
    }
    return result;
}

} // namespace corolla
