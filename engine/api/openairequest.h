#pragma once
// The bodies of OpenAI's /v1/chat/completions and /v1/completions, checked field by field as
// the OpenAI API checks them, and its error shape {"error": {message, type, param, code}}.
// Thread: any; pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace corolla {

enum class CompletionKind { Chat, Text };

struct CompletionRequest {
    CompletionKind kind = CompletionKind::Chat;
    std::string model;
    nlohmann::ordered_json messages = nlohmann::ordered_json::array(); // {role, content: string}
    std::string prompt;
    std::optional<std::int64_t> maxTokens; // nullopt: up to the model's context
    double temperature = 1.0;              // OpenAI's defaults; 0 is greedy
    double topP = 1.0;
    std::optional<std::uint64_t> seed; // nullopt: the server draws one
    std::vector<std::string> stop;
    bool stream = false;
    bool includeUsage = false; // stream_options.include_usage
};

struct ApiError {
    int status = 400;
    std::string type = "invalid_request_error";
    std::string message;
    std::string param; // empty: null
    std::string code;  // empty: null
};

// The request in `body`, or the error to answer with (400, naming the parameter).
std::variant<CompletionRequest, ApiError> parseCompletionRequest(CompletionKind kind,
                                                                 const std::string &body);

// {"error": {"message", "type", "param", "code"}}.
std::string errorJson(const ApiError &error);

} // namespace corolla
