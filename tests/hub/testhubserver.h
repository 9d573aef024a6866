#pragma once
// The test Hub (tests/tools/testhub.cpp) as a process that tests start and always stop, with
// its fault switches and request counts.

#include <QCoreApplication>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QString>
#include <QStringList>

#include "tools/peerprocesses.h"

namespace corolla::testing {

class TestHubServer {
public:
    // Starts the Hub with `arguments` (--repo ORG/NAME=DIR ...) among `processes`.
    TestHubServer(PeerProcesses &processes, const QString &program, const QStringList &arguments)
        : m_processes(processes)
    {
        m_process = processes.start(arguments, program);
        m_process->setReadChannel(QProcess::StandardOutput);
        while (m_url.isEmpty() && m_process->state() == QProcess::Running) {
            if (!m_process->canReadLine() && !m_process->waitForReadyRead(30000))
                break;
            while (m_process->canReadLine()) {
                const QString line = QString::fromUtf8(m_process->readLine()).trimmed();
                if (line.startsWith(QLatin1String("hub ")))
                    m_url = line.mid(4);
            }
        }
    }

    bool isRunning() const { return !m_url.isEmpty() && m_process->state() == QProcess::Running; }
    const QString &url() const { return m_url; }
    void stop() { m_processes.kill(m_process); }

    // POST /_admin/fault with `fault` ({"file": ..., "drop_after": ..., ...}).
    QJsonObject fault(const QJsonObject &fault) { return post(QStringLiteral("fault"), fault); }
    // Clears faults and counts.
    QJsonObject clear() { return post(QStringLiteral("clear"), {}); }
    QJsonObject stats() { return request("GET", QStringLiteral("stats"), {}); }
    // GET /api/models/{repo}/revision/main.
    QJsonObject modelInfo(const QString &repo)
    {
        return request("GET", {}, {}, QStringLiteral("/api/models/%1/revision/main").arg(repo));
    }

private:
    QJsonObject post(const QString &what, const QJsonObject &body)
    {
        return request("POST", what, QJsonDocument(body).toJson());
    }

    QJsonObject request(const QByteArray &verb, const QString &what, const QByteArray &body,
                        const QString &path = {})
    {
        QNetworkAccessManager network;
        QNetworkRequest request(QUrl(m_url + (path.isEmpty() ? "/_admin/" + what : path)));
        request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        QNetworkReply *reply = verb == "POST" ? network.post(request, body) : network.get(request);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        loop.exec();
        const QJsonObject answer = QJsonDocument::fromJson(reply->readAll()).object();
        reply->deleteLater();
        return answer;
    }

    PeerProcesses &m_processes;
    QProcess *m_process = nullptr;
    QString m_url;
};

} // namespace corolla::testing
