#include "core/error.h"

namespace corolla {

std::string_view errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::Io: return "I/O error";
    case ErrorCode::Format: return "format error";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::ResourceExhausted: return "resource exhausted";
    case ErrorCode::Internal: return "internal error";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::PermissionDenied: return "permission denied";
    }
    return "error";
}

std::string Error::toString() const
{
    std::string text(errorCodeName(code));
    text += ": ";
    text += message;
    return text;
}

} // namespace corolla
