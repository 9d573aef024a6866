// api: an OpenAI-compatible HTTP server over a model, on this machine or on a swarm.

#include <mutex>

#include <QCoreApplication>
#include <QHostAddress>

#include "api/apiserver.h"
#include "api/modelapibackend.h"
#include "app/clientoptions.h"
#include "app/commands.h"
#include "app/events.h"
#include "app/swarmoptions.h"
#include "core/bytesize.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

// Runs another runner's steps while holding `turn`.
class TurnTakingRunner : public BlockRunner {
public:
    TurnTakingRunner(std::unique_ptr<BlockRunner> runner, std::mutex &turn)
        : m_runner(std::move(runner))
        , m_turn(turn)
    {
    }
    Result<at::Tensor> step(const at::Tensor &hidden, const std::stop_token &stop) override
    {
        const std::lock_guard lock(m_turn);
        return m_runner->step(hidden, stop);
    }
    std::int64_t position() const override { return m_runner->position(); }

private:
    std::unique_ptr<BlockRunner> m_runner;
    std::mutex &m_turn;
};

} // namespace

int runApi(const QStringList &arguments)
{
    CommandParser parser(
        QStringLiteral("api"),
        QStringLiteral("Serves an OpenAI-compatible API (/v1/chat/completions, /v1/completions, "
                       "/v1/models, /health) over a model on this machine, or on a swarm with "
                       "--swarm, until stopped (Ctrl+C)."));
    addClientModelOptions(parser, QStringLiteral("bf16"));
    parser.addValueOptions({
        {"host", "ADDRESS", "address to listen on", "127.0.0.1"},
        {"port", "P", "TCP port (0: any free port)", "8080"},
        {"api-key", "KEY", "the key clients must send (Authorization: Bearer KEY)"},
        {"max-length", "N", "tokens a request may hold, prompt and answer", "4096"},
        {"max-concurrent", "N", "completions at once; more are answered 429", "16"},
        {"max-body", "SIZE", "largest request body", "4MiB"},
    });
    addEventsOption(parser);
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    enableEvents(parser);
    parser.require(QStringLiteral("model"));
    ApiOptions options;
    options.apiKey = parser.value(QStringLiteral("api-key"));
    options.maxConcurrent = int(parser.integer(QStringLiteral("max-concurrent"), 1, 4096));
    const quint16 port = quint16(parser.integer(QStringLiteral("port"), 0, 65535));
    const std::int64_t maxLength = parser.integer(QStringLiteral("max-length"), 16, 1 << 20);
    if (auto body = parseByteSize(parser.text(QStringLiteral("max-body"))))
        options.maxBodyBytes = *body;
    else
        parser.error(QStringLiteral("--max-body: ") + QString::fromStdString(body.error().message));
    const QHostAddress host(parser.value(QStringLiteral("host")));
    if (host.isNull())
        parser.error(QStringLiteral("--host must be an IP address, not '%1'")
                         .arg(parser.value(QStringLiteral("host"))));
    const std::string argument = parser.text(QStringLiteral("model"));
    auto model = clientModelOptions(parser, "api", exitCode);
    if (!model)
        return exitCode;

    auto tokenizer = Tokenizer::load(model->modelDir);
    if (!tokenizer)
        return reportError("api", tokenizer.error().toString());
    auto backend = ModelBackend::open(*model);
    if (!backend)
        return reportError("api", backend.error().toString());
    // Local blocks step one request at a time, so that requests take turns token by token
    // instead of sharing the cores at once; each keeps its own KV cache.
    std::mutex localTurn;
    ModelBackend &blocks = **backend;
    ModelApiBackend api(
        **tokenizer, blocks.head(), blocks.config().eosTokenIds,
        [&blocks, &localTurn](std::int64_t length,
                              const std::stop_token &stop) -> Result<std::unique_ptr<BlockRunner>> {
            auto runner = blocks.newSession(length, stop);
            if (!runner || blocks.isSwarm())
                return runner;
            return std::unique_ptr<BlockRunner>(
                new TurnTakingRunner(std::move(runner).value(), localTurn));
        },
        apiModelId(argument, model->modelDir), maxLength);
    ApiServer server(options, api);
    const quint16 listening = server.listen(host, port);
    if (listening == 0)
        return reportError("api", "cannot listen on " + host.toString().toStdString() + ":"
                                      + std::to_string(port));
    if (!host.isLoopback() && options.apiKey.isEmpty())
        logLine(QStringLiteral("warning: listening on %1 without --api-key: anyone who reaches "
                               "this port can use the model")
                    .arg(host.toString()));
    logLine(QStringLiteral("model %1 at http://%2:%3/v1")
                .arg(QString::fromStdString(api.modelId()), host.toString())
                .arg(listening));
    emitEvent("listening", {{"port", listening}, {"model", api.modelId()}});
    onTerminationSignal([] { QCoreApplication::quit(); });
    return QCoreApplication::exec();
}

} // namespace corolla
