#pragma once
// The model download the user asked for: started from the model picker, resumed at the next
// start until it is done, and on success made the model of the settings (Contribute and
// Chat use it). Partial files stay in the cache when it is cancelled, so that asking again
// continues where it stopped.
// Thread: the GUI thread.

#include <QObject>

#include "facade/enginetypes.h"

namespace corolla {

class Engine;
class Settings;

class DownloadController : public QObject {
    Q_OBJECT
public:
    DownloadController(Engine &engine, Settings &settings, QObject *parent = nullptr);

    // Downloads `repo` (ORG/NAME[@REVISION]); false with `error` for a malformed name.
    bool start(const QString &repo, QString *error = nullptr);
    void cancel();
    // Continues a download the last run did not finish.
    void resumePending();

    const DownloadStatus &status() const { return m_status; }
    bool isRunning() const { return m_running; }

Q_SIGNALS:
    void statusChanged(const corolla::DownloadStatus &status);
    // The download finished and the settings now name `folder` as the model.
    void modelReady(const QString &folder);

private:
    void onChanged(const DownloadStatus &status);

    Engine &m_engine;
    Settings &m_settings;
    DownloadStatus m_status;
    bool m_running = false;
};

// "1.2 GiB of 3.4 GiB, 45.6 MiB/s, 0:32 left" and the like, for one status line.
QString downloadStatusText(const DownloadStatus &status);

} // namespace corolla
