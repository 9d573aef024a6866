#include "facade/downloadworker.h"

#include "hub/hubdownloader.h"

namespace corolla {

namespace {

constexpr qint64 kReportIntervalMs = 200;

} // namespace

void DownloadWorker::download(const QString &repo, const std::stop_token &stop)
{
    DownloadStatus status;
    status.repo = repo;
    auto ref = parseRepoRef(repo.trimmed().toStdString());
    if (!ref) {
        status.state = DownloadState::Failed;
        status.message = QString::fromStdString(ref.error().message);
        Q_EMIT changed(status);
        return;
    }
    Q_EMIT changed(status);
    m_sinceReport.start();

    HubDownloadOptions options;
    options.stop = stop;
    options.progress = [this, &status](const DownloadProgress &progress) {
        status.file = progress.file;
        status.fileIndex = progress.fileIndex;
        status.fileCount = progress.fileCount;
        status.fileBytes = progress.fileBytes;
        status.fileSize = progress.fileSize;
        status.bytes = progress.bytes;
        status.totalBytes = progress.totalBytes;
        status.bytesPerSecond = progress.bytesPerSecond;
        if (progress.fileDone || m_sinceReport.elapsed() >= kReportIntervalMs) {
            m_sinceReport.restart();
            Q_EMIT changed(status);
        }
    };
    options.note = [this, &status](const QString &note) {
        status.message = note;
        Q_EMIT changed(status);
    };
    FileSelection selection;
    selection.clientPart = true;
    HubDownloader downloader(std::move(options));
    auto folder = downloader.fetch(*ref, selection);
    if (folder) {
        status.state = DownloadState::Done;
        status.folder = *folder;
        status.message.clear();
    } else {
        status.state = folder.error().code == ErrorCode::Cancelled ? DownloadState::Cancelled
                                                                   : DownloadState::Failed;
        status.message = QString::fromStdString(folder.error().message);
    }
    Q_EMIT changed(status);
}

} // namespace corolla
