// corolla-chaos: seeded, reproducible failure campaigns against a real swarm on 127.0.0.1.
// A DHT bootstrap node and a pool of `corolla serve` processes (two holders for every block,
// in different spans) serve a test model; each run brings a random set of them up (the rest
// are SIGKILLed, leaving stale records in the DHT), starts `corolla generate --swarm`, and
// SIGKILLs or SIGSTOPs one or two random servers at a random moment: before the session
// opens, when it opens (prefill), mid-decode, or during the failover from a first victim.
// Every run must end with the output of local generation, or — when some block has no live
// holder any more — a clean error naming exactly such blocks within the timeouts.
// Prints one summary line; exits 0 only when no run was wrong, crashed or hung.
// Usage: corolla-chaos --runs N --seed S [--corolla PATH] [--tokens N]
//                      [--step-timeout S] [--route-timeout S] [--verbose]

#include <csignal>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>

#include "testmodel/testmodel.h"
#include "tools/peerprocesses.h"

using namespace corolla;

namespace {

constexpr int kNumBlocks = 8;
constexpr int kStartTimeoutMs = 60000;
constexpr int kSwarmViewTimeoutMs = 90000;

struct ServerSlot {
    QString name;
    int start = 0, end = 0;
    QProcess *process = nullptr;
    quint16 port = 0;
    bool stopped = false; // SIGSTOPped in this run
};

enum class Moment { BeforeOpen, AtOpen, MidDecode, DuringFailover };

const char *momentName(Moment moment)
{
    switch (moment) {
    case Moment::BeforeOpen: return "before-open";
    case Moment::AtOpen: return "at-open";
    case Moment::MidDecode: return "mid-decode";
    case Moment::DuringFailover: return "during-failover";
    }
    return "?";
}

enum class Outcome { Identical, CleanError, Wrong, UnexpectedError, Crash, Hang };

struct Summary {
    int runs = 0;
    std::map<Outcome, int> counts;
    int serverCrashes = 0;
};

class Campaign {
public:
    Campaign(const QString &corolla, int tokens, int stepTimeoutS, int routeTimeoutS, bool verbose)
        : m_peers(corolla)
        , m_tokens(tokens)
        , m_stepTimeoutS(stepTimeoutS)
        , m_routeTimeoutS(routeTimeoutS)
        , m_verbose(verbose)
    {
    }

    bool setUp()
    {
        m_model = m_peers.folder() + QStringLiteral("/model");
        TestModelSpec spec{"llama", "demo", at::kFloat, 5};
        if (auto written = writeTestModel(m_model.toStdString(), spec, 2); !written) {
            std::fprintf(stderr, "chaos: %s\n", written.error().message.c_str());
            return false;
        }
        m_bootstrapPort = freeUdpPort();
        m_bootstrap = m_peers.start({QStringLiteral("bootstrap"), QStringLiteral("--port"),
                                     QString::number(m_bootstrapPort), QStringLiteral("--events")});
        if (waitForEvent(m_bootstrap, "listening").empty())
            return false;
        // Every block has two holders, in spans that do not line up.
        m_slots = {{QStringLiteral("a"), 0, 4}, {QStringLiteral("b"), 0, 3},
                   {QStringLiteral("c"), 3, 4}, {QStringLiteral("d"), 4, 8},
                   {QStringLiteral("e"), 4, 6}, {QStringLiteral("f"), 6, 8}};
        auto [code, output] = m_peers.run(generateArguments(), kStartTimeoutMs);
        if (code != 0 || output.isEmpty()) {
            std::fprintf(stderr, "chaos: local generation failed (exit %d)\n", code);
            return false;
        }
        m_expected = output;
        return true;
    }

    Outcome run(std::mt19937_64 &random, int index)
    {
        // Alive at the start: one or both holders of each block, so every block is held.
        std::set<int> alive;
        do {
            alive.clear();
            for (int i = 0; i < int(m_slots.size()); ++i)
                if (std::bernoulli_distribution(0.7)(random))
                    alive.insert(i);
        } while (!covered(alive));
        bool started = false;
        for (int i = 0; i < int(m_slots.size()); ++i) {
            if (alive.count(i) && !isRunning(i)) {
                startServer(i);
                started = true;
            } else if (!alive.count(i) && isRunning(i)) {
                m_peers.kill(m_slots[std::size_t(i)].process); // its record stays in the DHT
            }
        }
        for (int i : alive)
            if (!isRunning(i))
                return Outcome::UnexpectedError; // reported by startServer
        // The campaign is about failures, not about how fast a new record spreads: the run
        // starts once the DHT shows every server that is up at its current address.
        if (started && !waitForSwarmView(alive))
            return Outcome::UnexpectedError;

        // The victims, how, and when.
        std::vector<int> candidates(alive.begin(), alive.end());
        std::shuffle(candidates.begin(), candidates.end(), random);
        const int victims =
            std::min<int>(int(candidates.size()), std::bernoulli_distribution(0.4)(random) ? 2 : 1);
        candidates.resize(std::size_t(victims));
        const bool stop = std::bernoulli_distribution(0.35)(random);
        Moment moment =
            std::array{Moment::BeforeOpen, Moment::AtOpen, Moment::MidDecode, Moment::MidDecode,
                       Moment::DuringFailover}[std::uniform_int_distribution<int>(0, 4)(random)];
        if (moment == Moment::DuringFailover && victims < 2)
            moment = Moment::MidDecode;
        const int killAfterTokens =
            std::uniform_int_distribution<int>(1, std::max(1, m_tokens - 2))(random);
        const int secondDelayMs = std::uniform_int_distribution<int>(0, 40)(random);

        auto strike = [&](int slot) {
            ServerSlot &server = m_slots[std::size_t(slot)];
            if (stop) {
                ::kill(pid_t(server.process->processId()), SIGSTOP);
                server.stopped = true;
            } else {
                m_peers.kill(server.process);
            }
        };
        auto strikeAll = [&] {
            strike(candidates[0]);
            if (victims > 1) {
                if (moment == Moment::DuringFailover)
                    QThread::msleep(ulong(secondDelayMs));
                strike(candidates[1]);
            }
        };

        if (moment == Moment::BeforeOpen)
            strikeAll();
        QProcess *client = m_peers.start(generateArguments() + swarmArguments());
        QByteArray output;
        bool struck = moment == Moment::BeforeOpen;
        QElapsedTimer timer;
        timer.start();
        // Longer than any legitimate run: several step and route timeouts and failovers.
        const qint64 hangLimitMs = std::max(90, 15 * (m_stepTimeoutS + m_routeTimeoutS)) * 1000;
        while (client->state() != QProcess::NotRunning && timer.elapsed() < hangLimitMs) {
            client->waitForReadyRead(5);
            output += client->readAllStandardOutput();
            if (struck)
                continue;
            const bool opened = !m_peers.lastEvent(client, "route").empty();
            const bool decoded = output.count(' ') >= killAfterTokens;
            if ((moment == Moment::AtOpen && opened) || (moment != Moment::AtOpen && decoded)) {
                strikeAll();
                struck = true;
            }
        }
        const bool hung = client->state() != QProcess::NotRunning;
        if (hung)
            m_peers.kill(client);
        output += client->readAllStandardOutput();
        const QString log = m_peers.log(client);

        // Blocks that no live server holds now.
        std::set<int> live;
        for (int i = 0; i < int(m_slots.size()); ++i)
            if (isRunning(i) && !m_slots[std::size_t(i)].stopped)
                live.insert(i);
        const std::set<int> missing = uncovered(live);

        Outcome outcome;
        if (hung)
            outcome = Outcome::Hang;
        else if (client->exitStatus() != QProcess::NormalExit
                 || (client->exitCode() != 0 && client->exitCode() != 1)
                 || log.contains(QLatin1String("Sanitizer"))
                 || log.contains(QLatin1String("runtime error")))
            outcome = Outcome::Crash;
        else if (client->exitCode() == 0)
            outcome = output == m_expected ? Outcome::Identical : Outcome::Wrong;
        else
            outcome = isCleanError(m_peers.lastEvent(client, "error"), missing)
                          ? Outcome::CleanError
                          : Outcome::UnexpectedError;

        // Servers that died on their own are crashes too.
        for (int i = 0; i < int(m_slots.size()); ++i) {
            ServerSlot &server = m_slots[std::size_t(i)];
            const bool victim =
                std::find(candidates.begin(), candidates.end(), i) != candidates.end();
            if (server.process && alive.count(i) && !victim && !isRunning(i)) {
                ++m_serverCrashes;
                std::fprintf(stderr, "chaos: run %d: server %s died:\n%s\n", index,
                             qPrintable(server.name),
                             qPrintable(m_peers.log(server.process).right(4000)));
            }
            if (server.stopped) {
                ::kill(pid_t(server.process->processId()), SIGCONT);
                server.stopped = false;
            }
        }

        QString victimNames;
        for (int slot : candidates)
            victimNames += m_slots[std::size_t(slot)].name;
        if (m_verbose || (outcome != Outcome::Identical && outcome != Outcome::CleanError)) {
            std::fprintf(stderr, "chaos: run %d: %s %s %s after %d tokens (%lld ms): %s\n", index,
                         stop ? "SIGSTOP" : "SIGKILL", qPrintable(victimNames), momentName(moment),
                         killAfterTokens, qint64(timer.elapsed()), outcomeName(outcome));
            if (outcome != Outcome::Identical && outcome != Outcome::CleanError) {
                std::fprintf(stderr, "%s\n", qPrintable(log.right(6000)));
                for (const ServerSlot &server : m_slots)
                    std::fprintf(stderr, "chaos: server %s, blocks %d:%d, port %d, %s\n",
                                 qPrintable(server.name), server.start, server.end,
                                 int(server.port),
                                 server.process && server.process->state() != QProcess::NotRunning
                                     ? "running"
                                     : "not running");
            }
        }
        return outcome;
    }

    int serverCrashes() const { return m_serverCrashes; }

    static const char *outcomeName(Outcome outcome)
    {
        switch (outcome) {
        case Outcome::Identical: return "identical";
        case Outcome::CleanError: return "clean error";
        case Outcome::Wrong: return "WRONG OUTPUT";
        case Outcome::UnexpectedError: return "UNEXPECTED ERROR";
        case Outcome::Crash: return "CRASH";
        case Outcome::Hang: return "HANG";
        }
        return "?";
    }

private:
    QStringList generateArguments() const
    {
        return {QStringLiteral("generate"),
                QStringLiteral("--model"),
                m_model,
                QStringLiteral("--dtype"),
                QStringLiteral("fp32"),
                QStringLiteral("--ids"),
                QStringLiteral("1,7,42,99,3,18"),
                QStringLiteral("--max-new-tokens"),
                QString::number(m_tokens),
                QStringLiteral("--events")};
    }

    QStringList swarmArguments() const
    {
        return {QStringLiteral("--swarm"),
                QStringLiteral("--dht-bootstrap"),
                QStringLiteral("127.0.0.1:%1").arg(m_bootstrapPort),
                QStringLiteral("--route-timeout"),
                QString::number(m_routeTimeoutS),
                QStringLiteral("--step-timeout"),
                QString::number(m_stepTimeoutS)};
    }

    bool isRunning(int slot) const
    {
        const QProcess *process = m_slots[std::size_t(slot)].process;
        return process && process->state() != QProcess::NotRunning;
    }

    std::set<int> uncovered(const std::set<int> &servers) const
    {
        std::set<int> missing;
        for (int block = 0; block < kNumBlocks; ++block)
            if (std::none_of(servers.begin(), servers.end(), [&](int i) {
                    return m_slots[std::size_t(i)].start <= block
                           && block < m_slots[std::size_t(i)].end;
                }))
                missing.insert(block);
        return missing;
    }

    bool covered(const std::set<int> &servers) const { return uncovered(servers).empty(); }

    // An "error" event that names the blocks no server holds: every one of them must be a
    // block with no live holder, and it must name at least one.
    static bool isCleanError(const nlohmann::json &error, const std::set<int> &missing)
    {
        if (!error.is_object() || !error.contains("blocks") || missing.empty()
            || error["blocks"].empty())
            return false;
        for (const nlohmann::json &block : error["blocks"])
            if (!missing.count(block.get<int>()))
                return false;
        return true;
    }

    // Whether `corolla swarm` sees every server of `alive` online at its current port, within
    // a minute and a half. When it does not, says which servers it missed and what they logged.
    // A first look is short; later ones listen long enough for a DHT search to get past the
    // nodes of clients that left (OpenDHT gives up on a silent node after about 7 s).
    bool waitForSwarmView(const std::set<int> &alive)
    {
        QElapsedTimer timer;
        timer.start();
        std::set<int> missing = alive;
        int probes = 0, lastCode = 0;
        qint64 slowestProbeMs = 0;
        while (timer.elapsed() < kSwarmViewTimeoutMs) {
            QElapsedTimer probe;
            probe.start();
            ++probes;
            auto [code, output] = m_peers.run({QStringLiteral("swarm"), QStringLiteral("--model"),
                                               m_model, QStringLiteral("--dht-bootstrap"),
                                               QStringLiteral("127.0.0.1:%1").arg(m_bootstrapPort),
                                               QStringLiteral("--json"), QStringLiteral("--wait"),
                                               QString::number(probes == 1 ? 3 : 8)});
            slowestProbeMs = std::max(slowestProbeMs, probe.elapsed());
            lastCode = code;
            const nlohmann::json view = nlohmann::json::parse(output.toStdString(), nullptr, false);
            if (code != 0 || !view.is_object() || !view.contains("servers"))
                continue;
            missing.clear();
            for (int slot : alive) {
                const std::string address =
                    "127.0.0.1:" + std::to_string(m_slots[std::size_t(slot)].port);
                const bool seen =
                    std::any_of(view["servers"].begin(), view["servers"].end(),
                                [&](const nlohmann::json &server) {
                                    const auto &addresses =
                                        server.value("addresses", nlohmann::json::array());
                                    return server.value("state", "") == "online"
                                           && std::find(addresses.begin(), addresses.end(), address)
                                                  != addresses.end();
                                });
                if (!seen)
                    missing.insert(slot);
            }
            if (missing.empty()) {
                if (m_verbose)
                    std::fprintf(stderr,
                                 "chaos: the DHT showed every running server after %lld ms\n",
                                 qint64(timer.elapsed()));
                return true;
            }
        }
        std::fprintf(
            stderr,
            "chaos: the DHT did not show every running server within %d s (%d probes, the slowest "
            "%lld ms, the last exited with %d)\n",
            kSwarmViewTimeoutMs / 1000, probes, slowestProbeMs, lastCode);
        for (int slot : missing)
            std::fprintf(stderr, "chaos: server %s (port %d) missing; its log ends:\n%s\n",
                         qPrintable(m_slots[std::size_t(slot)].name),
                         int(m_slots[std::size_t(slot)].port),
                         qPrintable(m_peers.log(m_slots[std::size_t(slot)].process).right(2000)));
        return false;
    }

    // The process's event named `name`, or an empty object (after saying so) when it exits
    // or takes too long.
    nlohmann::json waitForEvent(QProcess *process, std::string_view name)
    {
        nlohmann::json event = m_peers.waitForEvent(process, name, kStartTimeoutMs);
        if (event.empty())
            std::fprintf(stderr, "chaos: %s did not start:\n%s\n",
                         qPrintable(process->arguments().join(QLatin1Char(' '))),
                         qPrintable(m_peers.log(process)));
        return event;
    }

    void startServer(int slot)
    {
        ServerSlot &server = m_slots[std::size_t(slot)];
        server.process = m_peers.start(
            {QStringLiteral("serve"), QStringLiteral("--model"), m_model,
             QStringLiteral("--blocks"), QStringLiteral("%1:%2").arg(server.start).arg(server.end),
             QStringLiteral("--dtype"), QStringLiteral("fp32"), QStringLiteral("--listen"),
             QStringLiteral("127.0.0.1"), QStringLiteral("--dht-bootstrap"),
             QStringLiteral("127.0.0.1:%1").arg(m_bootstrapPort),
             QStringLiteral("--announce-period"), QStringLiteral("10"),
             QStringLiteral("--public-name"), server.name, QStringLiteral("--identity"),
             m_peers.folder() + QStringLiteral("/%1.pem").arg(server.name),
             QStringLiteral("--events")});
        if (waitForEvent(server.process, "serving").empty()) {
            m_peers.kill(server.process);
            return;
        }
        server.port = m_peers.lastEvent(server.process, "listening")["port"].get<quint16>();
    }

    PeerProcesses m_peers;
    int m_tokens;
    int m_stepTimeoutS;
    int m_routeTimeoutS;
    bool m_verbose;
    QString m_model;
    quint16 m_bootstrapPort = 0;
    QProcess *m_bootstrap = nullptr;
    std::vector<ServerSlot> m_slots;
    QByteArray m_expected;
    int m_serverCrashes = 0;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Seeded failure campaigns against a local swarm."));
    parser.addHelpOption();
    parser.addOption({QStringLiteral("runs"), QStringLiteral("number of runs"), QStringLiteral("N"),
                      QStringLiteral("30")});
    parser.addOption({QStringLiteral("seed"), QStringLiteral("random seed"), QStringLiteral("S"),
                      QStringLiteral("1")});
    parser.addOption({QStringLiteral("tokens"), QStringLiteral("tokens per run"),
                      QStringLiteral("N"), QStringLiteral("48")});
    parser.addOption({QStringLiteral("corolla"), QStringLiteral("the corolla program"),
                      QStringLiteral("PATH"), QStringLiteral(COROLLA_BINARY)});
    parser.addOption({QStringLiteral("step-timeout"), QStringLiteral("the client's --step-timeout"),
                      QStringLiteral("S"), QStringLiteral("2")});
    parser.addOption({QStringLiteral("route-timeout"),
                      QStringLiteral("the client's --route-timeout"), QStringLiteral("S"),
                      QStringLiteral("3")});
    parser.addOption({QStringLiteral("verbose"), QStringLiteral("one line per run")});
    parser.process(app);
    bool runsOk = false, seedOk = false, tokensOk = false;
    const int runs = parser.value(QStringLiteral("runs")).toInt(&runsOk);
    const qulonglong seed = parser.value(QStringLiteral("seed")).toULongLong(&seedOk);
    const int tokens = parser.value(QStringLiteral("tokens")).toInt(&tokensOk);
    bool stepOk = false, routeOk = false;
    const int stepTimeoutS = parser.value(QStringLiteral("step-timeout")).toInt(&stepOk);
    const int routeTimeoutS = parser.value(QStringLiteral("route-timeout")).toInt(&routeOk);
    if (!runsOk || !seedOk || !tokensOk || !stepOk || !routeOk || runs < 1 || tokens < 4
        || tokens > 1000 || stepTimeoutS < 1 || routeTimeoutS < 0) {
        std::fprintf(stderr,
                     "chaos: --runs must be at least 1, --seed a whole number, --tokens 4-1000, "
                     "--step-timeout at least 1 and --route-timeout at least 0\n");
        return 2;
    }

    Campaign campaign(parser.value(QStringLiteral("corolla")), tokens, stepTimeoutS, routeTimeoutS,
                      parser.isSet(QStringLiteral("verbose")));
    if (!campaign.setUp())
        return 1;
    std::mt19937_64 random(seed);
    Summary summary;
    for (int i = 0; i < runs; ++i) {
        ++summary.counts[campaign.run(random, i)];
        ++summary.runs;
    }
    const int crashes = summary.counts[Outcome::Crash] + campaign.serverCrashes();
    std::printf("chaos: seed %llu, %d runs, %d identical, %d clean errors, %d wrong outputs, %d "
                "unexpected errors, "
                "%d crashes, %d hangs\n",
                seed, summary.runs, summary.counts[Outcome::Identical],
                summary.counts[Outcome::CleanError], summary.counts[Outcome::Wrong],
                summary.counts[Outcome::UnexpectedError], crashes, summary.counts[Outcome::Hang]);
    const bool failed = summary.counts[Outcome::Wrong] + summary.counts[Outcome::UnexpectedError]
                            + crashes + summary.counts[Outcome::Hang]
                        > 0;
    return failed ? 1 : 0;
}
