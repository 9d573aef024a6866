#pragma once
// Model downloads for the app: what chatting with a Hub model needs (config, tokenizer,
// embeddings, LM head) into the shared Hugging Face cache, with progress; serving fetches
// its blocks' shards itself when it starts.
// Thread: the download thread (moved there by Engine); signals are queued to the GUI.

#include <stop_token>

#include <QElapsedTimer>
#include <QObject>

#include "facade/enginetypes.h"

namespace corolla {

class DownloadWorker : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;

    // Runs to the end (or until `stop`), reporting through changed().
    void download(const QString &repo, const std::stop_token &stop);

Q_SIGNALS:
    void changed(const corolla::DownloadStatus &status);

private:
    QElapsedTimer m_sinceReport;
};

} // namespace corolla
