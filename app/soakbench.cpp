// corolla bench soak: many concurrent chats through a swarm of server processes on
// 127.0.0.1 while servers are killed and restarted, every answer checked against the same
// model run locally with the same steps.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <nlohmann/json.hpp>

#include "app/benchoptions.h"
#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/serverprocesses.h"
#include "swarm/modelidentity.h"
#include "testmodel/testmodel.h"
#include "swarm/swarmconnection.h"

namespace corolla {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSessionLength = 512;
constexpr int kRouteTimeoutMs = 20000;
constexpr int kStepTimeoutMs = 5000;

// Times every single-token step of the runner it wraps.
class TimedRunner : public BlockRunner {
public:
    explicit TimedRunner(BlockRunner &inner)
        : m_inner(inner)
    {
    }
    Result<at::Tensor> step(const at::Tensor &hidden, const std::stop_token &stop) override
    {
        const auto start = Clock::now();
        auto output = m_inner.step(hidden, stop);
        if (output && hidden.size(1) == 1)
            stepMs.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        return output;
    }
    std::int64_t position() const override { return m_inner.position(); }

    std::vector<double> stepMs;

private:
    BlockRunner &m_inner;
};

struct SoakTotals {
    std::mutex mutex;
    std::int64_t turns = 0, tokens = 0, wrongTokens = 0, failovers = 0, cleanErrors = 0,
                 otherErrors = 0;
    std::vector<double> swarmStepMs, localStepMs;
    std::vector<std::string> errorSamples;
};

struct ChatPlan {
    int index = 0;
    std::uint64_t seed = 0;
    std::int64_t answerTokens = 32;
    Clock::time_point end;
};

// One chat: turns of a few prompt tokens and a greedy answer, on a swarm session and on a
// local runner fed the very same steps; every answer token is compared.
void soakChat(const ChatPlan &plan, const LocalModel &local, SwarmClient &swarm, SoakTotals &totals)
{
    std::mt19937_64 random(plan.seed);
    const ModelConfig &config = local.config();
    GenerationOptions options;
    options.maxNewTokens = plan.answerTokens;
    std::unique_ptr<BlockRunner> localRunner;
    std::unique_ptr<RemoteSession> session;
    std::int64_t carried = -1; // the last answer token, which no runner holds yet
    while (Clock::now() < plan.end) {
        const std::int64_t promptLength =
            std::uniform_int_distribution<std::int64_t>(4, 24)(random);
        if (session
            && session->position() + promptLength + plan.answerTokens + 1 > kSessionLength) {
            session.reset();
            localRunner.reset();
        }
        if (!session) {
            RemoteSessionOptions sessionOptions;
            sessionOptions.maxLength = kSessionLength;
            sessionOptions.codec = losslessCodec(local.head().dtype());
            sessionOptions.routeTimeoutMs = kRouteTimeoutMs;
            sessionOptions.stepTimeoutMs = kStepTimeoutMs;
            auto opened = RemoteSession::open(swarm, config.numLayers, sessionOptions);
            if (!opened) {
                std::lock_guard lock(totals.mutex);
                ++(opened.error().code == ErrorCode::NotFound ? totals.cleanErrors
                                                              : totals.otherErrors);
                if (totals.errorSamples.size() < 8)
                    totals.errorSamples.push_back(opened.error().message);
                continue;
            }
            session = std::move(*opened);
            localRunner = std::make_unique<LocalBlockRunner>(local.blocks(), kSessionLength);
            carried = -1;
        }
        std::vector<std::int64_t> prompt;
        if (carried >= 0)
            prompt.push_back(carried);
        for (std::int64_t i = 0; i < promptLength; ++i)
            prompt.push_back(
                std::uniform_int_distribution<std::int64_t>(3, config.vocabSize - 1)(random));

        std::vector<std::int64_t> swarmTokens, localTokens;
        TimedRunner timedSwarm(*session), timedLocal(*localRunner);
        const int failoversBefore = session->failovers();
        auto swarmRun =
            generate(local.head(), timedSwarm, prompt, options, [&](std::int64_t token) {
                swarmTokens.push_back(token);
                return true;
            });
        if (!swarmRun) {
            std::lock_guard lock(totals.mutex);
            totals.failovers += session->failovers() - failoversBefore;
            ++(swarmRun.error().code == ErrorCode::NotFound ? totals.cleanErrors
                                                            : totals.otherErrors);
            if (totals.errorSamples.size() < 8)
                totals.errorSamples.push_back(swarmRun.error().message);
            session.reset(); // its state is unknown after a failed step
            localRunner.reset();
            continue;
        }
        auto localRun =
            generate(local.head(), timedLocal, prompt, options, [&](std::int64_t token) {
                localTokens.push_back(token);
                return true;
            });
        std::int64_t wrong =
            std::abs(std::int64_t(swarmTokens.size()) - std::int64_t(localTokens.size()));
        for (std::size_t i = 0; i < std::min(swarmTokens.size(), localTokens.size()); ++i)
            wrong += swarmTokens[i] != localTokens[i];
        carried = swarmTokens.empty() ? -1 : swarmTokens.back();

        std::lock_guard lock(totals.mutex);
        if (!localRun) {
            ++totals.otherErrors;
            totals.errorSamples.push_back("local: " + localRun.error().message);
            session.reset();
            localRunner.reset();
            continue;
        }
        ++totals.turns;
        totals.tokens += std::int64_t(swarmTokens.size());
        totals.wrongTokens += wrong;
        totals.failovers += session->failovers() - failoversBefore;
        totals.swarmStepMs.insert(totals.swarmStepMs.end(), timedSwarm.stepMs.begin(),
                                  timedSwarm.stepMs.end());
        totals.localStepMs.insert(totals.localStepMs.end(), timedLocal.stepMs.begin(),
                                  timedLocal.stepMs.end());
        if (wrong > 0) {
            // A mismatch ends this chat's sessions: both runners start over.
            session.reset();
            localRunner.reset();
        }
    }
}

double percentile(std::vector<double> values, double fraction)
{
    if (values.empty())
        return 0.0;
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, std::size_t(fraction * double(values.size())))];
}

struct SoakServer {
    std::int64_t begin = 0, end = 0;
    LocalServer process;
    bool killedByUs = false;
    Clock::time_point restartAt{};
};

// What `corolla bench soak` runs with.
struct SoakBenchCommand {
    BenchModelOptions model;
    int chats = 0;
    double minutes = 0, killEvery = 0;
    std::int64_t answerTokens = 0;
    std::uint64_t seed = 0;
};

std::optional<SoakBenchCommand> parseSoakBench(const QStringList &arguments, int &exitCode)
{
    CommandParser parser(
        QStringLiteral("bench soak"),
        QStringLiteral("Runs N concurrent chats through a swarm of server processes on "
                       "127.0.0.1 (two servers for each half of the blocks) "
                       "while killing and restarting random servers; compares every answer "
                       "token with the same steps run locally; prints one JSON object."));
    addBenchModelOptions(parser, QStringLiteral("demo"), QStringLiteral("fp32"));
    parser.addValueOptions({
        {"chats", "N", "concurrent chats", "4"},
        {"minutes", "M", "how long to run", "1"},
        {"kill-every", "SECONDS",
         "SIGKILL a random server this often and restart it half as long "
         "later (0: never)",
         "20"},
        {"answer-tokens", "N", "tokens per answer", "32"},
        {"seed", "S", "random seed", "1"},
    });
    if (!parser.parse(arguments.mid(1), exitCode))
        return std::nullopt;
    SoakBenchCommand command;
    command.model = benchModelOptions(parser);
    command.chats = int(parser.integer(QStringLiteral("chats"), 1, 256));
    command.minutes = parser.number(QStringLiteral("minutes"), 0.05, 24 * 60.0);
    command.killEvery = parser.number(QStringLiteral("kill-every"), 0.0, 3600.0);
    command.answerTokens = parser.integer(QStringLiteral("answer-tokens"), 1, 256);
    command.seed = std::uint64_t(parser.integer(QStringLiteral("seed"), 0, INT64_MAX));
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    return command;
}

int execute(const SoakBenchCommand &command)
{
    const int chats = command.chats;
    const double minutes = command.minutes, killEvery = command.killEvery;
    const std::int64_t answerTokens = command.answerTokens;
    const std::uint64_t seed = command.seed;
    const at::ScalarType dtype = command.model.dtype;
    const std::string modelName = command.model.name();
    QTemporaryDir scratch;
    auto folder = benchModelFolder(command.model, scratch);
    if (!folder)
        return reportError("bench soak", folder.error().toString());
    const std::string modelDir = *folder;
    auto local = LocalModel::open(modelDir, dtype);
    if (!local)
        return reportError("bench soak", local.error().toString());
    auto modelId = modelIdForDirectory(modelDir);
    if (!modelId)
        return reportError("bench soak", modelId.error().toString());
    const std::int64_t numBlocks = (*local)->config().numLayers;
    if (numBlocks < 2)
        return reportError("bench soak", "the model needs at least two blocks");

    ServerProcesses processes;
    auto bootstrap = processes.startBootstrap();
    if (!bootstrap)
        return reportError("bench soak", bootstrap.error().toString());
    const QStringList dht{QStringLiteral("--dht-bootstrap"),
                          QStringLiteral("127.0.0.1:%1").arg(*bootstrap),
                          QStringLiteral("--announce-period"), QStringLiteral("10")};
    const std::int64_t half = numBlocks / 2;
    std::vector<SoakServer> servers{{0, half}, {0, half}, {half, numBlocks}, {half, numBlocks}};
    auto startServer = [&](SoakServer &server) -> Result<void> {
        auto started = processes.start(modelDir, server.begin, server.end, computeDtypeName(dtype),
                                       Quantization::None, 0, {}, dht);
        if (!started)
            return started.error();
        server.process = *started;
        server.killedByUs = false;
        return {};
    };
    std::fprintf(stderr, "starting %zu servers...\n", servers.size());
    for (SoakServer &server : servers)
        if (auto started = startServer(server); !started)
            return reportError("bench soak", started.error().toString());

    SwarmConnection connection;
    connection.dhtBootstrap.push_back("127.0.0.1:" + std::to_string(*bootstrap));
    auto swarm = SwarmClient::start(
        [connection, id = *modelId] { return makeSwarmWatcher(connection, id); }, 1000);
    if (!swarm)
        return reportError("bench soak", swarm.error().toString());
    (*swarm)->waitForServers([&](const auto &found) { return found.size() == servers.size(); },
                             30000);

    std::fprintf(stderr, "%d chats for %.1f minutes...\n", chats, minutes);
    SoakTotals totals;
    const auto start = Clock::now();
    const auto end = start + std::chrono::milliseconds(std::int64_t(minutes * 60000));
    std::vector<std::thread> threads;
    for (int i = 0; i < chats; ++i)
        threads.emplace_back(soakChat,
                             ChatPlan{i, seed * 1000003 + std::uint64_t(i), answerTokens, end},
                             std::cref(**local), std::ref(**swarm), std::ref(totals));

    // The main thread kills and restarts servers, and notices servers that died by themselves.
    std::mt19937_64 random(seed);
    int kills = 0, crashes = 0;
    auto nextKill = start + std::chrono::milliseconds(std::int64_t(killEvery * 1000));
    while (Clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto now = Clock::now();
        for (SoakServer &server : servers) {
            const bool running = server.process.process->state() != QProcess::NotRunning;
            if (!running && !server.killedByUs) {
                ++crashes;
                std::fprintf(
                    stderr, "server of blocks %lld-%lld died by itself:\n%s\n",
                    static_cast<long long>(server.begin), static_cast<long long>(server.end - 1),
                    server.process.process->readAllStandardError().right(4000).constData());
                server.killedByUs = true;
                server.restartAt = now;
            }
            if (!running && server.killedByUs && now >= server.restartAt) {
                if (auto started = startServer(server); !started)
                    std::fprintf(stderr, "restart failed: %s\n", started.error().message.c_str());
            }
        }
        if (killEvery > 0 && now >= nextKill) {
            nextKill = now + std::chrono::milliseconds(std::int64_t(killEvery * 1000));
            std::vector<SoakServer *> running;
            for (SoakServer &server : servers)
                if (server.process.process->state() != QProcess::NotRunning)
                    running.push_back(&server);
            if (!running.empty()) {
                SoakServer &victim = *running[std::uniform_int_distribution<std::size_t>(
                    0, running.size() - 1)(random)];
                victim.process.process->kill();
                victim.process.process->waitForFinished(10000);
                victim.killedByUs = true;
                victim.restartAt = now + std::chrono::milliseconds(std::int64_t(killEvery * 500));
                ++kills;
            }
        }
    }
    for (std::thread &thread : threads)
        thread.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    nlohmann::json report = {
        {"benchmark", "soak"},
        {"model", modelName},
        {"dtype", computeDtypeName(dtype)},
        {"chats", chats},
        {"seconds", seconds},
        {"kill_every_s", killEvery},
        {"servers", servers.size()},
        {"kills", kills},
        {"turns", totals.turns},
        {"tokens", totals.tokens},
        {"tokens_per_s", double(totals.tokens) / seconds},
        {"failovers", totals.failovers},
        {"clean_errors", totals.cleanErrors},
        {"other_errors", totals.otherErrors},
        {"wrong_tokens", totals.wrongTokens},
        {"crashes", crashes},
        {"step_ms",
         {{"p50", percentile(totals.swarmStepMs, 0.5)},
          {"p99", percentile(totals.swarmStepMs, 0.99)}}},
        {"local_step_ms",
         {{"p50", percentile(totals.localStepMs, 0.5)},
          {"p99", percentile(totals.localStepMs, 0.99)}}},
        {"error_samples", totals.errorSamples},
    };
    std::printf("%s\n", report.dump(2).c_str());
    return totals.wrongTokens == 0 && crashes == 0 && totals.otherErrors == 0 ? 0 : 1;
}

} // namespace

int runSoakBench(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<SoakBenchCommand> command = parseSoakBench(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
