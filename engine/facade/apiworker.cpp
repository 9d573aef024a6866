#include "facade/apiworker.h"

#include <QHostAddress>

#include "api/apiserver.h"
#include "api/modelapibackend.h"
#include "facade/clientmodel.h"

namespace corolla {

namespace {

constexpr int kRouteTimeoutMs = 15000;
constexpr std::int64_t kMaxRequestTokens = 4096;

} // namespace

ApiWorker::ApiWorker(QObject *parent)
    : QObject(parent)
{
}

ApiWorker::~ApiWorker()
{
    stop();
}

void ApiWorker::setModel(const QString &modelDir, const SwarmConnection &connection)
{
    // The engine re-announces the model when other settings change (the server's port or
    // name): a running server keeps its streams.
    if (modelDir == m_modelDir && connection == m_connection && (m_server || !m_settings.enabled))
        return;
    m_modelDir = modelDir;
    m_connection = connection;
    restart();
}

void ApiWorker::setSettings(const ApiSettings &settings)
{
    if (settings == m_settings && (m_server || !settings.enabled))
        return;
    m_settings = settings;
    restart();
}

void ApiWorker::stop()
{
    m_server.reset();
    m_backend.reset();
    m_model.reset();
}

void ApiWorker::report(ApiState state, ApiProblem problem, const QString &message)
{
    m_status.state = state;
    m_status.problem = problem;
    m_status.message = message;
    if (state != ApiState::Listening) {
        m_status.url.clear();
        m_status.activeRequests = 0;
    }
    Q_EMIT changed(m_status);
}

void ApiWorker::restart()
{
    stop();
    m_status = ApiStatus();
    if (!m_settings.enabled)
        return report(ApiState::Off);
    if (m_modelDir.isEmpty())
        return report(ApiState::Failed, ApiProblem::NoModel);
    m_status.port = m_settings.port;
    report(ApiState::Starting);

    auto model = ClientModel::open(m_modelDir, m_connection);
    if (!model)
        return report(ApiState::Failed, ApiProblem::ModelFailed,
                      QString::fromStdString(model.error().toString()));
    m_model = std::move(*model);
    const std::string id = apiModelId(m_modelDir.toStdString(), m_modelDir.toStdString());
    m_backend = std::make_unique<ModelApiBackend>(
        *m_model->tokenizer, *m_model->head, m_model->config.eosTokenIds,
        m_model->runners(kRouteTimeoutMs), id, kMaxRequestTokens);
    ApiOptions options;
    options.apiKey = m_settings.key;
    m_server = std::make_unique<ApiServer>(options, *m_backend);
    const quint16 port = m_server->listen(QHostAddress::LocalHost, m_settings.port);
    if (port == 0) {
        stop();
        return report(ApiState::Failed, ApiProblem::PortTaken);
    }
    connect(m_server.get(), &ApiServer::activeRequestsChanged, this, [this](int active) {
        m_status.activeRequests = active;
        Q_EMIT changed(m_status);
    });
    m_status.url = QStringLiteral("http://127.0.0.1:%1/v1").arg(port);
    m_status.modelId = QString::fromStdString(id);
    report(ApiState::Listening);
}

} // namespace corolla
