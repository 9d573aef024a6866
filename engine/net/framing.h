#pragma once
// Length framing of the byte stream: a 4-byte big-endian payload length, then the payload.
// FrameReader accepts bytes in whatever pieces the socket delivers them and hands out whole
// payloads; a length over the limit is an error before anything is allocated for it.
// Thread: owned by one connection's thread.

#include <cstdint>
#include <optional>

#include <QByteArray>

#include "core/result.h"

namespace corolla {

constexpr std::uint32_t kDefaultMaxFrameBytes = 256u << 20; // 256 MiB

QByteArray encodeFrame(const QByteArray &payload);

class FrameReader {
public:
    explicit FrameReader(std::uint32_t maxFrameBytes = kDefaultMaxFrameBytes)
        : m_maxFrameBytes(maxFrameBytes)
    {
    }

    void append(const char *data, std::int64_t size);
    void append(const QByteArray &bytes) { append(bytes.constData(), bytes.size()); }

    // The next whole payload, nullopt while it is still incomplete, or an error when the
    // announced length exceeds the limit (the stream cannot be resynchronised after that).
    Result<std::optional<QByteArray>> next();

    // Bytes received but not yet returned.
    std::int64_t buffered() const { return m_buffer.size() - m_offset; }

private:
    std::uint32_t m_maxFrameBytes;
    QByteArray m_buffer;
    std::int64_t m_offset = 0;
};

} // namespace corolla
