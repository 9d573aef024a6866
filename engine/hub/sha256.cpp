#include "hub/sha256.h"

#include <stdexcept>

#include <openssl/evp.h>

namespace corolla {

struct Sha256::State {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    ~State() { EVP_MD_CTX_free(context); }
};

Sha256::Sha256()
    : m_state(std::make_unique<State>())
{
    if (!m_state->context)
        throw std::bad_alloc();
    reset();
}

Sha256::~Sha256() = default;

void Sha256::reset()
{
    if (EVP_DigestInit_ex(m_state->context, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL cannot start a SHA-256");
}

void Sha256::add(const char *data, std::int64_t size)
{
    if (size > 0)
        EVP_DigestUpdate(m_state->context, data, std::size_t(size));
}

QString Sha256::finishHex()
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(m_state->context, digest, &length);
    reset();
    return QString::fromLatin1(
        QByteArray(reinterpret_cast<const char *>(digest), int(length)).toHex());
}

} // namespace corolla

namespace corolla {

BackgroundSha256::BackgroundSha256()
    : m_thread([this] { run(); })
{
}

BackgroundSha256::~BackgroundSha256()
{
    {
        const std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_changed.notify_all();
    m_thread.join();
}

void BackgroundSha256::add(QByteArray chunk)
{
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [this] { return m_queuedBytes < kMaxQueuedBytes; });
    m_queuedBytes += chunk.size();
    m_queue.push_back(std::move(chunk));
    m_changed.notify_all();
}

QString BackgroundSha256::finishHex()
{
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [this] { return m_queue.empty() && !m_busy; });
    return m_hash.finishHex();
}

void BackgroundSha256::run()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_changed.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
        if (m_stopping)
            return;
        QByteArray chunk = std::move(m_queue.front());
        m_queue.pop_front();
        m_busy = true;
        lock.unlock();
        m_hash.add(chunk.constData(), chunk.size());
        lock.lock();
        m_busy = false;
        m_queuedBytes -= chunk.size();
        m_changed.notify_all();
    }
}

} // namespace corolla
