#include "net/framing.h"

namespace corolla {

namespace {

constexpr int kHeaderBytes = 4;

} // namespace

QByteArray encodeFrame(const QByteArray &payload)
{
    const auto length = std::uint32_t(payload.size());
    QByteArray frame;
    frame.reserve(kHeaderBytes + payload.size());
    frame.append(char(length >> 24))
        .append(char(length >> 16))
        .append(char(length >> 8))
        .append(char(length));
    frame.append(payload);
    return frame;
}

void FrameReader::append(const char *data, std::int64_t size)
{
    // Drop what was consumed before growing, so the buffer never holds more than one
    // partial frame plus the new bytes.
    if (m_offset > 0 && m_offset * 2 >= m_buffer.size()) {
        m_buffer.remove(0, m_offset);
        m_offset = 0;
    }
    m_buffer.append(data, size);
}

Result<std::optional<QByteArray>> FrameReader::next()
{
    if (buffered() < kHeaderBytes)
        return std::optional<QByteArray>();
    const auto *header = reinterpret_cast<const unsigned char *>(m_buffer.constData() + m_offset);
    const std::uint32_t length = (std::uint32_t(header[0]) << 24) | (std::uint32_t(header[1]) << 16)
                                 | (std::uint32_t(header[2]) << 8) | std::uint32_t(header[3]);
    if (length > m_maxFrameBytes)
        return makeError(ErrorCode::Format, "frame of " + std::to_string(length)
                                                + " bytes exceeds the limit of "
                                                + std::to_string(m_maxFrameBytes));
    if (buffered() < kHeaderBytes + std::int64_t(length))
        return std::optional<QByteArray>();
    QByteArray payload = m_buffer.mid(m_offset + kHeaderBytes, length);
    m_offset += kHeaderBytes + length;
    if (m_offset == m_buffer.size()) {
        m_buffer.clear();
        m_offset = 0;
    }
    return std::optional<QByteArray>(std::move(payload));
}

} // namespace corolla
