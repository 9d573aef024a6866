// corolla-delay-relay: a TCP relay that holds every byte D milliseconds in each direction,
// to emulate a long network path on one machine (this kernel has no netem).
//   corolla-delay-relay --listen PORT --to HOST:PORT --delay-ms D
// Prints "relaying PORT -> HOST:PORT (+D ms each way)" on stderr once it listens.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <thread>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

namespace {

// Bytes from one socket, written to the other once they are `delay` old, in order.
// Qt's timers have millisecond steps and fire late by up to one: the timer wakes the pipe
// shortly before a chunk is due and the last stretch is slept precisely, so the added delay
// is D to within the system's wake-up latency (a request and its reply never overlap on one
// connection, so the short blocking sleep holds nothing else up).
class DelayedPipe : public QObject {
public:
    DelayedPipe(QTcpSocket *from, QTcpSocket *to, int delayMs, QObject *parent)
        : QObject(parent)
        , m_from(from)
        , m_to(to)
        , m_delay(std::chrono::milliseconds(delayMs))
    {
        m_timer.setSingleShot(true);
        m_timer.setTimerType(Qt::PreciseTimer);
        connect(&m_timer, &QTimer::timeout, this, &DelayedPipe::release);
        connect(from, &QTcpSocket::readyRead, this, &DelayedPipe::take);
    }

    void take()
    {
        const QByteArray bytes = m_from->readAll();
        if (bytes.isEmpty())
            return;
        m_queue.push_back({Clock::now() + m_delay, bytes});
        if (!m_timer.isActive())
            schedule();
    }

    void release()
    {
        while (!m_queue.empty() && m_queue.front().due - Clock::now() < kSleepWindow) {
            std::this_thread::sleep_until(m_queue.front().due);
            if (m_to)
                m_to->write(m_queue.front().bytes);
            m_queue.pop_front();
        }
        if (!m_queue.empty())
            schedule();
    }

private:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kSleepWindow = std::chrono::milliseconds(2);

    void schedule()
    {
        const auto early = m_queue.front().due - Clock::now() - kSleepWindow;
        m_timer.start(int(std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(early).count())));
    }

    struct Chunk {
        Clock::time_point due;
        QByteArray bytes;
    };
    QPointer<QTcpSocket> m_from, m_to;
    Clock::duration m_delay;
    QTimer m_timer;
    std::deque<Chunk> m_queue;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication application(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({QStringLiteral("listen"), QStringLiteral("port to listen on (127.0.0.1)"),
                      QStringLiteral("PORT")});
    parser.addOption(
        {QStringLiteral("to"), QStringLiteral("where to relay"), QStringLiteral("HOST:PORT")});
    parser.addOption({QStringLiteral("delay-ms"), QStringLiteral("delay each way"),
                      QStringLiteral("D"), QStringLiteral("0")});
    parser.process(application);
    const QString target = parser.value(QStringLiteral("to"));
    const int colon = int(target.lastIndexOf(QLatin1Char(':')));
    const QString host = target.left(colon);
    const quint16 port = quint16(target.mid(colon + 1).toUInt());
    const int delayMs = parser.value(QStringLiteral("delay-ms")).toInt();
    if (colon <= 0 || port == 0 || delayMs < 0) {
        std::fprintf(stderr,
                     "corolla-delay-relay: --to HOST:PORT and --delay-ms >= 0 are required\n");
        return 2;
    }

    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost,
                       quint16(parser.value(QStringLiteral("listen")).toUInt()))) {
        std::fprintf(stderr, "corolla-delay-relay: cannot listen: %s\n",
                     qPrintable(server.errorString()));
        return 1;
    }
    QObject::connect(&server, &QTcpServer::newConnection, [&] {
        while (QTcpSocket *client = server.nextPendingConnection()) {
            auto *upstream = new QTcpSocket(client);
            client->setSocketOption(QAbstractSocket::LowDelayOption, 1);
            // Socket options apply to a connected socket: no Nagle on the way to the server.
            QObject::connect(upstream, &QTcpSocket::connected, upstream, [upstream] {
                upstream->setSocketOption(QAbstractSocket::LowDelayOption, 1);
            });
            new DelayedPipe(client, upstream, delayMs, client);
            new DelayedPipe(upstream, client, delayMs, client);
            // Either side closing closes the other, after what is in flight has been written.
            QObject::connect(client, &QTcpSocket::disconnected, client, [client, delayMs] {
                QTimer::singleShot(delayMs + 1, client, [client] { client->deleteLater(); });
            });
            QObject::connect(upstream, &QTcpSocket::disconnected, client, [client, delayMs] {
                QTimer::singleShot(delayMs + 1, client, [client] { client->disconnectFromHost(); });
            });
            QObject::connect(upstream, &QTcpSocket::errorOccurred, client, [client, upstream] {
                if (upstream->state() != QAbstractSocket::ConnectedState)
                    client->abort();
            });
            upstream->connectToHost(host, port);
        }
    });
    std::fprintf(stderr, "relaying %u -> %s (+%d ms each way)\n", unsigned(server.serverPort()),
                 qPrintable(target), delayMs);
    std::fflush(stderr);
    return application.exec();
}
