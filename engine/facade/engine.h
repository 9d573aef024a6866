#pragma once
// The one object the user interface talks to. It runs the engine (servers, swarm view,
// demo swarm) on an engine thread, chat generation on a chat thread, model downloads on a
// download thread and the local OpenAI-compatible API on an API thread; requests go in as
// queued calls, snapshots and chat pieces come out as queued signals carrying values, and
// nothing here ever waits for the engine.
// Thread: the GUI thread (the thread that creates it).

#include <memory>
#include <stop_token>
#include <vector>

#include <QObject>
#include <QThread>

#include "facade/enginetypes.h"

namespace corolla {

class ApiWorker;
class ChatWorker;
class DownloadWorker;
class EngineHost;

class Engine : public QObject {
    Q_OBJECT
public:
    // `dataFolder` holds the peer identity, the demo model and cached measurements.
    explicit Engine(const QString &dataFolder, QObject *parent = nullptr);
    // Stops serving (announcing it), cancels any answer, download and API request, and joins
    // the threads.
    ~Engine() override;

    // Joins the swarm the settings describe, leaving the demo swarm if it ran.
    void applySettings(const SwarmSettings &settings);
    // Starts the local demo swarm (in-process servers of the bundled demo model) and joins it;
    // of the settings, only this peer's public name is used.
    void startDemoSwarm(int servers, const SwarmSettings &settings = {});
    // Serves on the swarm joined with `settings` (again, when they changed), or stops serving.
    void startDonating(const DonateSettings &settings);
    void stopDonating();
    bool isDonating() const { return m_donating; }

    // Starts answering; returns the request's id, which its chunks and result carry.
    quint64 chat(ChatRequest request);
    // Stops every answer asked for so far at its next token.
    void stopChat();

    // Fetches what chatting with Hub model `repo` (ORG/NAME[@REVISION]) needs into the
    // Hugging Face cache, reporting through downloadChanged(); a running download is
    // cancelled first. Partial files stay, so a later download of the same model resumes.
    void downloadModel(const QString &repo);
    void cancelDownload();

    // Serves the OpenAI-compatible API on 127.0.0.1 over the chat's model and swarm, or
    // stops it; reports through apiChanged().
    void configureApi(const ApiSettings &settings);
    const ApiStatus &apiStatus() const { return m_apiStatus; }

    // The last snapshot received (empty until the first, about half a second after start).
    const EngineStatus &status() const { return m_status; }

    // The CPU, then each GPU a CUDA build of libtorch sees, with its name and memory where the
    // driver's NVML reports them (else an empty name and zeros).
    struct DeviceInfo {
        ComputeDevice device;
        std::string name;
        std::int64_t totalBytes = 0, freeBytes = 0;
    };
    static std::vector<DeviceInfo> computeDevices();
    // The swarm settings' addresses, checked by the parsers the engine uses on them:
    // "host:port" (a DHT node), and the first line of a static peers list that is not
    // "host:port [peer-id]" (0 when every line is).
    static bool isHostPort(const QString &text);
    static int invalidStaticPeerLine(const QString &text);

Q_SIGNALS:
    void statusChanged(const corolla::EngineStatus &status);
    void chatChunk(const corolla::ChatChunk &chunk);
    void chatFinished(const corolla::ChatResult &result);
    void log(const QString &message);
    void downloadChanged(const corolla::DownloadStatus &status);
    void apiChanged(const corolla::ApiStatus &status);

private:
    QThread m_engineThread;
    QThread m_chatThread;
    QThread m_downloadThread;
    QThread m_apiThread;
    EngineHost *m_host = nullptr;         // lives on m_engineThread
    ChatWorker *m_chat = nullptr;         // lives on m_chatThread
    DownloadWorker *m_download = nullptr; // lives on m_downloadThread
    ApiWorker *m_api = nullptr;           // lives on m_apiThread
    std::stop_source m_downloadStop;
    std::stop_source m_chatStop; // requested by stopChat() for every answer asked before
    quint64 m_nextChatId = 1;
    bool m_donating = false;
    EngineStatus m_status;
    ApiStatus m_apiStatus;
};

} // namespace corolla
