#include "ui/downloadcontroller.h"

#include <QLocale>
#include <QRegularExpression>

#include "facade/engine.h"
#include "ui/settings.h"

namespace corolla {

namespace {

QString bytesText(qint64 bytes)
{
    return QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeTraditionalFormat);
}

QString durationText(double seconds)
{
    const qint64 s = qint64(seconds + 0.5);
    return s >= 3600 ? QStringLiteral("%1:%2:%3")
                           .arg(s / 3600)
                           .arg(s / 60 % 60, 2, 10, QLatin1Char('0'))
                           .arg(s % 60, 2, 10, QLatin1Char('0'))
                     : QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

} // namespace

QString downloadStatusText(const DownloadStatus &status)
{
    switch (status.state) {
    case DownloadState::Done: return DownloadController::tr("%1 is ready.").arg(status.repo);
    case DownloadState::Cancelled:
        return DownloadController::tr("Download of %1 cancelled; downloading it again continues "
                                      "where it stopped.")
            .arg(status.repo);
    case DownloadState::Failed:
        return DownloadController::tr("Download of %1 failed: %2").arg(status.repo, status.message);
    case DownloadState::Running: break;
    }
    if (status.fileCount == 0)
        return DownloadController::tr("Asking the Hub about %1…").arg(status.repo);
    QString text = DownloadController::tr("%1: file %2 of %3 (%4), %5 of %6")
                       .arg(status.repo)
                       .arg(status.fileIndex)
                       .arg(status.fileCount)
                       .arg(status.file, bytesText(status.bytes), bytesText(status.totalBytes));
    if (status.bytesPerSecond > 0) {
        text += DownloadController::tr(", %1/s").arg(bytesText(qint64(status.bytesPerSecond)));
        text += DownloadController::tr(", %1 left")
                    .arg(durationText(double(status.totalBytes - status.bytes)
                                      / status.bytesPerSecond));
    }
    return text;
}

DownloadController::DownloadController(Engine &engine, Settings &settings, QObject *parent)
    : QObject(parent)
    , m_engine(engine)
    , m_settings(settings)
{
    connect(&m_engine, &Engine::downloadChanged, this, &DownloadController::onChanged);
}

bool DownloadController::start(const QString &repo, QString *error)
{
    static const QRegularExpression name(QStringLiteral(
        "^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?$"));
    const QString trimmed = repo.trimmed();
    if (!name.match(trimmed).hasMatch()) {
        if (error)
            *error = tr("\"%1\" is not a Hub model name; write ORG/NAME, e.g. "
                        "TinyLlama/TinyLlama-1.1B-Chat-v1.0.")
                         .arg(trimmed);
        return false;
    }
    m_settings.pendingDownload = trimmed;
    m_settings.sync();
    m_running = true;
    m_engine.downloadModel(trimmed);
    return true;
}

void DownloadController::cancel()
{
    m_settings.pendingDownload = QString();
    m_settings.sync();
    m_engine.cancelDownload();
}

void DownloadController::resumePending()
{
    if (!m_settings.pendingDownload.get().isEmpty())
        start(m_settings.pendingDownload);
}

void DownloadController::onChanged(const DownloadStatus &status)
{
    m_status = status;
    m_running = status.state == DownloadState::Running;
    if (status.state == DownloadState::Done) {
        m_settings.pendingDownload = QString();
        m_settings.modelDir = status.folder;
        m_settings.useDemoSwarm = false;
        m_settings.sync();
        Q_EMIT statusChanged(m_status);
        Q_EMIT modelReady(status.folder);
        return;
    }
    Q_EMIT statusChanged(m_status);
}

} // namespace corolla
