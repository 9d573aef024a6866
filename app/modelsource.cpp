#include "app/modelsource.h"

#include <cstdio>
#include <mutex>

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>

#include <unistd.h>

#include "core/bytesize.h"

namespace corolla {

namespace {

constexpr qint64 kTerminalRedrawMs = 200;
constexpr qint64 kPlainLineMs = 5000;

std::string duration(double seconds)
{
    if (!(seconds >= 0) || seconds > 99 * 3600)
        return "--:--";
    const long long s = (long long)(seconds + 0.5);
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
    return text;
}

std::string percent(std::int64_t done, std::int64_t total)
{
    return total > 0 ? std::to_string(int(100.0 * double(done) / double(total))) + "%" : "?%";
}

// One line, redrawn in place on a terminal; a line every few seconds and one per finished
// file in a log.
class ProgressPrinter {
public:
    ProgressPrinter()
        : m_terminal(::isatty(STDERR_FILENO) == 1)
    {
        m_sinceLine.start();
    }

    void progress(const DownloadProgress &p)
    {
        const std::lock_guard lock(m_mutex);
        // A terminal shows every file as it starts; a log gets its end and a line now and
        // then for long ones.
        const bool due = p.fileDone
                         || m_sinceLine.elapsed() >= (m_terminal ? kTerminalRedrawMs : kPlainLineMs)
                         || (m_terminal && p.fileIndex != m_lastFile);
        if (!due)
            return;
        m_sinceLine.restart();
        m_lastFile = p.fileIndex;
        const double rate = p.bytesPerSecond;
        const double fileEta = rate > 0 ? double(p.fileSize - p.fileBytes) / rate : -1;
        const double totalEta = rate > 0 ? double(p.totalBytes - p.bytes) / rate : -1;
        char line[512];
        std::snprintf(line, sizeof line, "[%d/%d] %s %s %s/%s %s/s ETA %s | all %s %s/%s ETA %s",
                      p.fileIndex, p.fileCount, p.file.toStdString().c_str(),
                      percent(p.fileBytes, p.fileSize).c_str(), formatBytes(p.fileBytes).c_str(),
                      formatBytes(p.fileSize).c_str(), formatBytes(std::int64_t(rate)).c_str(),
                      duration(p.fileDone ? 0 : fileEta).c_str(),
                      percent(p.bytes, p.totalBytes).c_str(), formatBytes(p.bytes).c_str(),
                      formatBytes(p.totalBytes).c_str(), duration(totalEta).c_str());
        if (m_terminal)
            std::fprintf(stderr, "\r\033[K%s%s", line, p.fileDone ? "\n" : "");
        else
            std::fprintf(stderr, "%s\n", line);
        std::fflush(stderr);
    }

    void note(const QString &text)
    {
        const std::lock_guard lock(m_mutex);
        std::fprintf(stderr, "%s%s\n", m_terminal ? "\r\033[K" : "", qPrintable(text));
        std::fflush(stderr);
    }

private:
    std::mutex m_mutex;
    bool m_terminal;
    QElapsedTimer m_sinceLine;
    int m_lastFile = 0;
};

} // namespace

FileSelection allWeights()
{
    return {};
}

FileSelection metadataOnly()
{
    FileSelection selection;
    selection.weights = false;
    return selection;
}

FileSelection clientPart()
{
    FileSelection selection;
    selection.clientPart = true;
    return selection;
}

FileSelection blockWeights(std::int64_t begin, std::int64_t end)
{
    FileSelection selection;
    selection.blocks = std::make_pair(begin, end);
    return selection;
}

HubDownloadOptions terminalDownloadOptions(const std::stop_token &stop)
{
    auto printer = std::make_shared<ProgressPrinter>();
    HubDownloadOptions options;
    options.progress = [printer](const DownloadProgress &p) { printer->progress(p); };
    options.note = [printer](const QString &text) { printer->note(text); };
    options.stop = stop;
    return options;
}

Result<std::string> modelFolder(const std::string &argument, const FileSelection &selection,
                                const std::stop_token &stop)
{
    const QFileInfo folder(QString::fromStdString(argument));
    if (folder.isDir())
        return argument;
    auto ref = parseRepoRef(argument);
    if (!ref)
        return makeError(ErrorCode::NotFound,
                         argument
                             + ": no such folder, and not a Hub model name (ORG/NAME or "
                               "ORG/NAME@REVISION)");
    HubDownloader downloader(terminalDownloadOptions(stop));
    auto snapshot = downloader.fetch(*ref, selection);
    if (!snapshot)
        return snapshot.error();
    return snapshot->toStdString();
}

std::string adapterName(const std::string &argument)
{
    const QFileInfo folder(QString::fromStdString(argument));
    if (folder.isDir())
        return QFileInfo(folder.absoluteFilePath()).fileName().toStdString();
    return argument;
}

Result<AdapterLocation> adapterFolder(const std::string &argument, const std::stop_token &stop)
{
    FileSelection selection;
    selection.includes = {QStringLiteral("adapter_config.json"),
                          QStringLiteral("adapter_model.safetensors")};
    auto folder = modelFolder(argument, selection, stop);
    if (!folder)
        return folder.error();
    return AdapterLocation{adapterName(argument), *folder};
}

} // namespace corolla
