#include "facade/engine.h"

#include "core/gpuinfo.h"
#include "facade/apiworker.h"
#include "facade/chatworker.h"
#include "facade/downloadworker.h"
#include "facade/enginehost.h"
#include "model/placement.h"
#include "net/hostport.h"
#include "net/queuedcall.h"
#include "swarm/staticregistry.h"

namespace corolla {

namespace {

// Deletes `object` on its own thread, then ends that thread's loop, and waits for it.
template <typename Object> void retire(QThread &thread, Object *object)
{
    char retired = 0;
    postTo(object, [object, &retired] {
        delete object;
        handOver(&retired);
        QThread::currentThread()->quit();
    });
    thread.wait();
    takeOver(&retired); // all the thread did, and its object's destruction, is behind us
}

} // namespace

Engine::Engine(const QString &dataFolder, QObject *parent)
    : QObject(parent)
{
    registerEngineTypes();
    qRegisterMetaType<SwarmConnection>();
    m_engineThread.setObjectName(QStringLiteral("engine"));
    m_chatThread.setObjectName(QStringLiteral("chat"));
    m_downloadThread.setObjectName(QStringLiteral("download"));
    m_apiThread.setObjectName(QStringLiteral("api"));

    m_host = new EngineHost(dataFolder);
    m_host->moveToThread(&m_engineThread);
    m_chat = new ChatWorker;
    m_chat->moveToThread(&m_chatThread);
    m_download = new DownloadWorker;
    m_download->moveToThread(&m_downloadThread);
    m_api = new ApiWorker;
    m_api->moveToThread(&m_apiThread);

    connect(m_host, &EngineHost::statusChanged, this, [this](const EngineStatus &status) {
        m_status = status;
        Q_EMIT statusChanged(m_status);
    });
    connect(m_host, &EngineHost::log, this, &Engine::log);
    connect(m_host, &EngineHost::chatModelChanged, m_chat, &ChatWorker::configure);
    connect(m_chat, &ChatWorker::configured, m_host, &EngineHost::setChatState);
    connect(m_chat, &ChatWorker::pingsMeasured, m_host, &EngineHost::setPings);
    connect(m_chat, &ChatWorker::chunk, this, &Engine::chatChunk);
    connect(m_chat, &ChatWorker::finished, this, &Engine::chatFinished);
    connect(m_download, &DownloadWorker::changed, this, &Engine::downloadChanged);
    connect(m_host, &EngineHost::chatModelChanged, m_api, &ApiWorker::setModel);
    connect(m_api, &ApiWorker::changed, this, [this](const ApiStatus &status) {
        m_apiStatus = status;
        Q_EMIT apiChanged(m_apiStatus);
    });

    m_engineThread.start();
    m_chatThread.start();
    m_downloadThread.start();
    m_apiThread.start();
}

Engine::~Engine()
{
    stopChat();
    m_downloadStop.request_stop();
    retire(m_apiThread, m_api);     // its requests end before the servers they use go
    retire(m_engineThread, m_host); // its destructor stops the servers
    retire(m_chatThread, m_chat);
    retire(m_downloadThread, m_download);
}

void Engine::configureApi(const ApiSettings &settings)
{
    postTo(m_api, [api = m_api, settings] { api->setSettings(settings); });
}

void Engine::downloadModel(const QString &repo)
{
    cancelDownload();
    postTo(m_download, [worker = m_download, repo, stop = m_downloadStop.get_token()] {
        worker->download(repo, stop);
    });
}

void Engine::cancelDownload()
{
    m_downloadStop.request_stop();
    m_downloadStop = std::stop_source();
}

void Engine::applySettings(const SwarmSettings &settings)
{
    postTo(m_host, [host = m_host, settings] { host->applySettings(settings); });
}

void Engine::startDemoSwarm(int servers, const SwarmSettings &settings)
{
    postTo(m_host, [host = m_host, servers, settings] { host->startDemo(servers, settings); });
}

void Engine::startDonating(const DonateSettings &settings)
{
    m_donating = true;
    postTo(m_host, [host = m_host, settings] { host->startDonating(settings); });
}

void Engine::stopDonating()
{
    m_donating = false;
    postTo(m_host, [host = m_host] { host->stopDonating(); });
}

quint64 Engine::chat(ChatRequest request)
{
    request.id = m_nextChatId++;
    postTo(m_chat, [chat = m_chat, request, stop = m_chatStop.get_token()] {
        chat->answer(request, stop);
    });
    return request.id;
}

void Engine::stopChat()
{
    m_chatStop.request_stop();
    m_chatStop = std::stop_source(); // answers asked from now on
}

std::vector<Engine::DeviceInfo> Engine::computeDevices()
{
    std::vector<DeviceInfo> devices{DeviceInfo{}};
    const int gpus = cudaDeviceCount();
    for (int gpu = 0; gpu < gpus; ++gpu) {
        DeviceInfo info{ComputeDevice::cuda(gpu)};
        if (const auto reported = nvmlGpu(gpu)) {
            info.name = reported->name;
            info.totalBytes = reported->totalBytes;
            info.freeBytes = reported->freeBytes;
        }
        devices.push_back(std::move(info));
    }
    return devices;
}

bool Engine::isHostPort(const QString &text)
{
    return bool(parseHostPort(text.toStdString()));
}

int Engine::invalidStaticPeerLine(const QString &text)
{
    const QStringList lines = text.split(QLatin1Char('\n'));
    for (int i = 0; i < lines.size(); ++i) {
        if (!parseStaticPeers(lines[i].toStdString(), "static peers"))
            return i + 1;
    }
    return 0;
}

} // namespace corolla
