#pragma once
// A fixed list of servers, for tests and private setups: each is asked for its current
// signed record (the Info call) whenever the swarm is looked up.
// File format: one "HOST:PORT" per line, optionally followed by the expected PeerId;
// blank lines and lines starting with '#' are ignored.
// Thread: the engine thread.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "net/rpcchannel.h"
#include "swarm/registry.h"

namespace corolla {

struct StaticPeer {
    std::string host;
    quint16 port = 0;
    std::string peerId; // empty: any

    bool operator==(const StaticPeer &) const = default;
};

Result<std::vector<StaticPeer>> readStaticPeers(const std::string &path);
// The same from text; errors name `source` and the line.
Result<std::vector<StaticPeer>> parseStaticPeers(const std::string &text,
                                                 const std::string &source);

class StaticRegistry : public Registry {
    Q_OBJECT
public:
    explicit StaticRegistry(std::vector<StaticPeer> peers, QObject *parent = nullptr);

    QString name() const override { return QStringLiteral("static"); }
    void announce(const QByteArray &, const proto::ServerRecord &) override {}
    void lookup(const std::string &modelId) override;

private:
    RpcChannel *channel(std::size_t index);

    std::vector<StaticPeer> m_peers;
    std::map<std::size_t, RpcChannel *> m_channels;
};

} // namespace corolla
