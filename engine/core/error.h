#pragma once
// Error codes and messages for expected failures (I/O, parsing, bad input, peers).
// Thread: any; plain value type.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corolla {

enum class ErrorCode {
    InvalidArgument, // a caller or a user passed something that cannot be used
    NotFound,        // a file, tensor or key that should exist does not
    Io,              // the operating system refused a read, write or map
    Format,          // a file or message is malformed
    Unsupported,     // well-formed, but a feature we do not implement
    ResourceExhausted,
    Internal,         // a bug or a failure inside a library we call
    Cancelled,        // the caller asked to stop
    Timeout,          // a peer did not answer in time (it may be busy, or gone)
    PermissionDenied, // a service refused our credentials (a gated model, a wrong token)
};

// The stable English name of a code, for logs and the command line.
std::string_view errorCodeName(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
    std::string peerId;               // the peer whose failure this is, when a peer failed
    std::vector<std::int64_t> blocks; // the blocks it is about (ones no server holds, say)

    // "format error: model.safetensors: tensor 'x': ..." — what the command line prints.
    std::string toString() const;
};

inline Error makeError(ErrorCode code, std::string message)
{
    return Error{code, std::move(message), {}, {}};
}

} // namespace corolla
