#include "net/hostport.h"

#include <QString>

namespace corolla {

Result<std::pair<std::string, quint16>> parseHostPort(const std::string &text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        return makeError(ErrorCode::InvalidArgument, "'" + text + "' is not HOST:PORT");
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2); // [IPv6]:port
    bool ok = false;
    const uint port = QString::fromStdString(text.substr(colon + 1)).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return makeError(ErrorCode::InvalidArgument, "'" + text + "' has no valid port");
    return std::make_pair(host, quint16(port));
}

} // namespace corolla
