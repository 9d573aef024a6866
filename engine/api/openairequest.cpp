#include "api/openairequest.h"

namespace corolla {

namespace {

constexpr std::size_t kMaxStopSequences = 4;
constexpr double kMaxTemperature = 2.0;

using Json = nlohmann::ordered_json;

ApiError invalid(const std::string &param, const std::string &message)
{
    return ApiError{400, "invalid_request_error", message, param,
                    param.empty() ? "" : "invalid_value"};
}

// Text of a message's content: a string, or an array of {"type": "text", "text": ...} parts.
std::variant<std::string, ApiError> contentText(const Json &content, const std::string &param)
{
    if (content.is_string())
        return content.get<std::string>();
    if (!content.is_array())
        return invalid(param, param + " must be a string or an array of text parts");
    std::string text;
    for (std::size_t i = 0; i < content.size(); ++i) {
        const Json &part = content[i];
        const std::string where = param + "[" + std::to_string(i) + "]";
        if (!part.is_object() || !part.contains("type") || part["type"] != "text"
            || !part.contains("text") || !part["text"].is_string())
            return invalid(where, where
                                      + " must be {\"type\": \"text\", \"text\": ...}; only text "
                                        "parts are supported");
        text += part["text"].get<std::string>();
    }
    return text;
}

std::optional<ApiError> readMessages(const Json &body, CompletionRequest &request)
{
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
        return invalid("messages", "messages must be a non-empty array");
    const Json &messages = body["messages"];
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const std::string where = "messages[" + std::to_string(i) + "]";
        const Json &message = messages[i];
        if (!message.is_object() || !message.contains("role") || !message["role"].is_string())
            return invalid(where + ".role", where + " must be an object with a role");
        std::string role = message["role"].get<std::string>();
        if (role == "developer") // OpenAI's newer name for the system role
            role = "system";
        if (role != "system" && role != "user" && role != "assistant")
            return invalid(where + ".role", "role '" + role
                                                + "' is not supported (system, developer, user, "
                                                  "assistant)");
        if (!message.contains("content"))
            return invalid(where + ".content", where + " has no content");
        auto text = contentText(message["content"], where + ".content");
        if (auto *error = std::get_if<ApiError>(&text))
            return *error;
        request.messages.push_back({{"role", role}, {"content", std::get<std::string>(text)}});
    }
    return std::nullopt;
}

std::optional<ApiError> readSampling(const Json &body, CompletionRequest &request)
{
    if (body.contains("temperature") && !body["temperature"].is_null()) {
        if (!body["temperature"].is_number() || body["temperature"].get<double>() < 0
            || body["temperature"].get<double>() > kMaxTemperature)
            return invalid("temperature", "temperature must be a number from 0 to 2");
        request.temperature = body["temperature"].get<double>();
    }
    if (body.contains("top_p") && !body["top_p"].is_null()) {
        if (!body["top_p"].is_number() || body["top_p"].get<double>() <= 0
            || body["top_p"].get<double>() > 1)
            return invalid("top_p", "top_p must be a number in (0, 1]");
        request.topP = body["top_p"].get<double>();
    }
    if (body.contains("seed") && !body["seed"].is_null()) {
        if (!body["seed"].is_number_integer())
            return invalid("seed", "seed must be an integer");
        request.seed = std::uint64_t(body["seed"].get<std::int64_t>());
    }
    // Penalties on counts of earlier tokens: not what the sampler's repetition penalty does,
    // so only their neutral value is accepted.
    for (const char *penalty : {"frequency_penalty", "presence_penalty"})
        if (body.contains(penalty) && !body[penalty].is_null()
            && (!body[penalty].is_number() || body[penalty].get<double>() != 0.0))
            return invalid(penalty, std::string(penalty) + " is not supported; leave it at 0");
    // Features that would change the answer: refused unless left at their neutral value,
    // rather than ignored.
    for (const char *feature : {"logit_bias", "tools", "functions", "logprobs", "top_logprobs"}) {
        if (!body.contains(feature))
            continue;
        const Json &value = body[feature];
        const bool neutral = value.is_null() || (value.is_boolean() && !value.get<bool>())
                             || (value.is_object() && value.empty())
                             || (value.is_array() && value.empty());
        if (!neutral)
            return invalid(feature, std::string(feature) + " is not supported");
    }
    if (body.contains("response_format") && !body["response_format"].is_null()
        && !(body["response_format"].is_object() && body["response_format"].contains("type")
             && body["response_format"]["type"] == "text"))
        return invalid("response_format", "only {\"type\": \"text\"} is supported");
    return std::nullopt;
}

std::optional<ApiError> readLimits(const Json &body, CompletionRequest &request)
{
    for (const char *name : {"max_completion_tokens", "max_tokens"}) {
        if (!body.contains(name) || body[name].is_null())
            continue;
        if (!body[name].is_number_integer() || body[name].get<std::int64_t>() < 1)
            return invalid(name, std::string(name) + " must be a positive integer");
        request.maxTokens = body[name].get<std::int64_t>();
        break;
    }
    if (body.contains("n") && !body["n"].is_null()
        && (!body["n"].is_number_integer() || body["n"].get<std::int64_t>() != 1))
        return invalid("n", "n must be 1: one answer per request");
    if (body.contains("stop") && !body["stop"].is_null()) {
        const Json &stop = body["stop"];
        if (stop.is_string()) {
            request.stop.push_back(stop.get<std::string>());
        } else if (stop.is_array() && stop.size() <= kMaxStopSequences) {
            for (const Json &text : stop) {
                if (!text.is_string() || text.get<std::string>().empty())
                    return invalid("stop", "stop must hold non-empty strings");
                request.stop.push_back(text.get<std::string>());
            }
        } else {
            return invalid("stop", "stop must be a string or an array of up to 4 strings");
        }
    }
    if (body.contains("stream") && !body["stream"].is_null()) {
        if (!body["stream"].is_boolean())
            return invalid("stream", "stream must be a boolean");
        request.stream = body["stream"].get<bool>();
    }
    if (body.contains("stream_options") && !body["stream_options"].is_null()) {
        const Json &options = body["stream_options"];
        if (!request.stream)
            return invalid("stream_options", "stream_options needs stream: true");
        if (!options.is_object())
            return invalid("stream_options", "stream_options must be an object");
        if (options.contains("include_usage") && !options["include_usage"].is_null()) {
            if (!options["include_usage"].is_boolean())
                return invalid("stream_options.include_usage", "include_usage must be a boolean");
            request.includeUsage = options["include_usage"].get<bool>();
        }
    }
    return std::nullopt;
}

} // namespace

std::variant<CompletionRequest, ApiError> parseCompletionRequest(CompletionKind kind,
                                                                 const std::string &body)
{
    const Json json = Json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return invalid("", "the body is not a JSON object");
    CompletionRequest request;
    request.kind = kind;
    if (!json.contains("model") || !json["model"].is_string()
        || json["model"].get<std::string>().empty())
        return invalid("model", "model is required");
    request.model = json["model"].get<std::string>();
    if (kind == CompletionKind::Chat) {
        if (auto error = readMessages(json, request))
            return *error;
    } else {
        if (!json.contains("prompt") || !json["prompt"].is_string())
            return invalid("prompt", "prompt must be a string");
        request.prompt = json["prompt"].get<std::string>();
    }
    if (auto error = readSampling(json, request))
        return *error;
    if (auto error = readLimits(json, request))
        return *error;
    return request;
}

std::string errorJson(const ApiError &error)
{
    auto nullable = [](const std::string &text) { return text.empty() ? Json() : Json(text); };
    return Json{{"error",
                 {{"message", error.message},
                  {"type", error.type},
                  {"param", nullable(error.param)},
                  {"code", nullable(error.code)}}}}
        .dump(-1, ' ', false, Json::error_handler_t::replace);
}

} // namespace corolla
