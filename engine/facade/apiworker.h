#pragma once
// The app's OpenAI-compatible API: when enabled, an ApiServer on 127.0.0.1 whose answers come
// from the chat's model and swarm (a client part and SwarmClient of its own, so that API
// requests and the chat window never wait for each other). It follows the model the engine
// joins and the settings the user applies, and reports its state and requests at once.
// Thread: the API thread (construct anywhere, then move); the server's completions run on
// threads of their own.

#include <memory>

#include <QObject>

#include "facade/enginetypes.h"
#include "swarm/swarmconnection.h"

namespace corolla {

class ApiServer;
class ModelApiBackend;
struct ClientModel;

class ApiWorker : public QObject {
    Q_OBJECT
public:
    explicit ApiWorker(QObject *parent = nullptr);
    // Stops the server, ending its completions.
    ~ApiWorker() override;

    // The model and swarm the chat uses (none when modelDir is empty).
    void setModel(const QString &modelDir, const corolla::SwarmConnection &connection);
    void setSettings(const corolla::ApiSettings &settings);

Q_SIGNALS:
    void changed(const corolla::ApiStatus &status);

private:
    void restart();
    void stop();
    void report(ApiState state, ApiProblem problem = ApiProblem::None, const QString &message = {});

    QString m_modelDir;
    SwarmConnection m_connection;
    ApiSettings m_settings;
    ApiStatus m_status;
    // Destroyed in reverse: the server (joining its completions), the backend, the model.
    std::unique_ptr<ClientModel> m_model;
    std::unique_ptr<ModelApiBackend> m_backend;
    std::unique_ptr<ApiServer> m_server;
};

} // namespace corolla
