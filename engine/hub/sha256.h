#pragma once
// SHA-256 of a stream of bytes (OpenSSL, with the CPU's SHA instructions where it has them):
// LFS files on the Hub are named by theirs. BackgroundSha256 hashes on a thread of its own,
// so that a download's receiving and writing do not wait for it.
// Thread: one Sha256 per thread; a BackgroundSha256 is fed and finished by one thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include <QByteArray>
#include <QString>

namespace corolla {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256 &) = delete;
    Sha256 &operator=(const Sha256 &) = delete;

    void reset();
    void add(const char *data, std::int64_t size);
    // Lowercase hex; the hash is reset afterwards.
    QString finishHex();

private:
    struct State;
    std::unique_ptr<State> m_state;
};

class BackgroundSha256 {
public:
    BackgroundSha256();
    ~BackgroundSha256();

    // Queues `chunk` (shared, not copied); waits while much is queued already.
    void add(QByteArray chunk);
    // The hash of everything added since the start or the last finish; starts anew.
    QString finishHex();

private:
    void run();

    static constexpr std::int64_t kMaxQueuedBytes = 64 << 20;
    Sha256 m_hash;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<QByteArray> m_queue;
    std::int64_t m_queuedBytes = 0;
    bool m_busy = false;
    bool m_stopping = false;
    std::thread m_thread; // last: starts after the members it uses
};

} // namespace corolla
