#pragma once
// SHA-256 of a stream of bytes (OpenSSL, with the CPU's SHA instructions where it has them):
// LFS files on the Hub are named by theirs.
// Thread: one Sha256 per thread.

#include <cstdint>
#include <memory>

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

} // namespace corolla
