#pragma once
// What the API server answers with: a model that completes one request at a time per call,
// on whichever thread calls it (the server gives every request a thread of its own).
// Thread: complete() runs on request threads, several at once; the rest is const.

#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>

#include "api/openairequest.h"
#include "core/result.h"

namespace corolla {

struct CompletionResult {
    std::int64_t promptTokens = 0;
    std::int64_t completionTokens = 0;
    bool length = false; // ended at max_tokens (or the context), not at a stop
};

class ApiBackend {
public:
    virtual ~ApiBackend() = default;

    // The id clients name the model by ("ORG/NAME", or the folder's name).
    virtual std::string modelId() const = 0;
    // Unix seconds when the model was loaded, for /v1/models.
    virtual std::int64_t created() const = 0;
    // Renders and runs `request`, streaming the answer's text through onText (which returns
    // false to end it there). An error with blocks is a swarm that lacks them; Cancelled
    // when `stop` was requested.
    virtual Result<CompletionResult>
    complete(const CompletionRequest &request,
             const std::function<bool(const std::string &)> &onText,
             const std::stop_token &stop) = 0;
};

} // namespace corolla
