// The OpenAI request parser: every field read with OpenAI's names and defaults, and hostile
// bodies (wrong types everywhere, deep nesting, bad UTF-8) answered with a 400 that names
// the parameter, never an exception.

#include <QtTest>

#include "api/openairequest.h"

using namespace corolla;
using Json = nlohmann::ordered_json;

namespace {

std::variant<CompletionRequest, ApiError> parse(CompletionKind kind, const Json &body)
{
    return parseCompletionRequest(kind, body.dump());
}

Json chatBody()
{
    return Json{{"model", "m"}, {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})}};
}

} // namespace

class TestOpenAiRequest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsEveryField()
    {
        Json body = chatBody();
        body["messages"] =
            Json::array({{{"role", "developer"}, {"content", "Be brief."}},
                         {{"role", "user"},
                          {"content", Json::array({{{"type", "text"}, {"text", "Hello, "}},
                                                   {{"type", "text"}, {"text", "swarm"}}})}},
                         {{"role", "assistant"}, {"content", "Hi."}},
                         {{"role", "user"}, {"content", "More"}}});
        body["max_completion_tokens"] = 12;
        body["temperature"] = 0.5;
        body["top_p"] = 0.9;
        body["seed"] = 7;
        body["stop"] = Json::array({"\n\n", "END"});
        body["stream"] = true;
        body["stream_options"] = {{"include_usage", true}};
        body["n"] = 1;
        body["frequency_penalty"] = 0;
        const auto parsed = parse(CompletionKind::Chat, body);
        QVERIFY(std::holds_alternative<CompletionRequest>(parsed));
        const CompletionRequest &request = std::get<CompletionRequest>(parsed);
        QCOMPARE(request.messages.size(), std::size_t(4));
        QCOMPARE(request.messages[0]["role"], Json("system"));
        QCOMPARE(request.messages[1]["content"], Json("Hello, swarm"));
        QCOMPARE(request.maxTokens.value_or(0), std::int64_t(12));
        QCOMPARE(request.temperature, 0.5);
        QCOMPARE(request.topP, 0.9);
        QCOMPARE(request.seed.value_or(0), std::uint64_t(7));
        QCOMPARE(request.stop, (std::vector<std::string>{"\n\n", "END"}));
        QVERIFY(request.stream && request.includeUsage);

        // OpenAI's defaults.
        const auto plain = parse(CompletionKind::Text, Json{{"model", "m"}, {"prompt", "x"}});
        const CompletionRequest &text = std::get<CompletionRequest>(plain);
        QCOMPARE(text.prompt, std::string("x"));
        QCOMPARE(text.temperature, 1.0);
        QCOMPARE(text.topP, 1.0);
        QVERIFY(!text.maxTokens && !text.seed && !text.stream && text.stop.empty());
    }

    void refusesWhatItCannotHonour()
    {
        auto param = [](const std::variant<CompletionRequest, ApiError> &parsed) {
            return std::holds_alternative<ApiError>(parsed)
                       ? QString::fromStdString(std::get<ApiError>(parsed).param)
                       : QStringLiteral("<accepted>");
        };
        Json body = chatBody();
        body["n"] = 2;
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("n"));
        body = chatBody();
        body["presence_penalty"] = 0.1;
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("presence_penalty"));
        body = chatBody();
        body["stop"] = Json::array({"a", "b", "c", "d", "e"});
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("stop"));
        body = chatBody();
        body["stream_options"] = {{"include_usage", true}};
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("stream_options"));
        body = chatBody();
        body["messages"][0]["content"] =
            Json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}});
        QCOMPARE(param(parse(CompletionKind::Chat, body)),
                 QStringLiteral("messages[0].content[0]"));
        body = chatBody();
        body["messages"][0]["role"] = "tool";
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("messages[0].role"));
        body = chatBody();
        body["logit_bias"] = {{"50256", -100}};
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("logit_bias"));
        body = chatBody();
        body["tools"] = Json::array({{{"type", "function"}}});
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("tools"));
        body = chatBody();
        body["response_format"] = {{"type", "json_object"}};
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("response_format"));
        body = chatBody(); // neutral values pass
        body["logprobs"] = false;
        body["tools"] = Json::array();
        body["response_format"] = {{"type", "text"}};
        body["user"] = "someone";
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("<accepted>"));
        body = chatBody();
        body["temperature"] = 2.5;
        QCOMPARE(param(parse(CompletionKind::Chat, body)), QStringLiteral("temperature"));
    }

    void wrongTypesAreErrorsNotExceptions()
    {
        const std::vector<Json> values = {Json(),
                                          Json(true),
                                          Json(0),
                                          Json(-1),
                                          Json(1.5),
                                          Json(1e300),
                                          Json("x"),
                                          Json(""),
                                          Json::array(),
                                          Json::array({1}),
                                          Json::array({Json::object()}),
                                          Json::object(),
                                          Json{{"type", 1}},
                                          Json{{"include_usage", "yes"}}};
        const std::vector<std::string> fields = {"model",
                                                 "messages",
                                                 "prompt",
                                                 "temperature",
                                                 "top_p",
                                                 "seed",
                                                 "max_tokens",
                                                 "max_completion_tokens",
                                                 "n",
                                                 "stop",
                                                 "stream",
                                                 "stream_options",
                                                 "frequency_penalty",
                                                 "presence_penalty",
                                                 "logit_bias",
                                                 "tools",
                                                 "logprobs",
                                                 "response_format"};
        int refused = 0;
        for (const CompletionKind kind : {CompletionKind::Chat, CompletionKind::Text}) {
            for (const std::string &field : fields) {
                for (const Json &value : values) {
                    Json body = chatBody();
                    body["prompt"] = "p";
                    body["stream"] = true;
                    body[field] = value;
                    std::variant<CompletionRequest, ApiError> parsed;
                    try {
                        parsed = parse(kind, body);
                    } catch (const std::exception &error) {
                        QFAIL(qPrintable(QStringLiteral("%1 = %2 threw %3")
                                             .arg(QString::fromStdString(field),
                                                  QString::fromStdString(value.dump()),
                                                  QString::fromUtf8(error.what()))));
                    }
                    if (const auto *error = std::get_if<ApiError>(&parsed)) {
                        ++refused;
                        QCOMPARE(error->status, 400);
                        QVERIFY(!error->message.empty());
                        QVERIFY2(error->param.rfind(field, 0) == 0 || field == "prompt"
                                     || field == "messages",
                                 (field + ": " + error->param).c_str());
                    }
                }
            }
            // Message elements of every shape.
            for (const Json &value : values) {
                Json body = chatBody();
                body["messages"] = Json::array({value});
                QVERIFY(std::holds_alternative<ApiError>(parse(kind, body))
                        || kind == CompletionKind::Text);
                body = chatBody();
                body["messages"][0]["content"] = Json::array({value});
                QVERIFY(std::holds_alternative<ApiError>(parse(kind, body))
                        || kind == CompletionKind::Text);
            }
        }
        QVERIFY(refused > 200);
    }

    void malformedBodiesAreRefused()
    {
        for (const std::string &body :
             {std::string(), std::string("{"), std::string("[]"), std::string("null"),
              std::string("{\"model\": \"m\", \"prompt\": \"\xff\xfe\"}"),
              std::string(1000000, '[') + std::string(1000000, ']')}) {
            const auto parsed = parseCompletionRequest(CompletionKind::Text, body);
            QVERIFY(std::holds_alternative<ApiError>(parsed));
            QCOMPARE(std::get<ApiError>(parsed).status, 400);
        }
    }

    void errorsHaveOpenAisShape()
    {
        const Json error = Json::parse(
            errorJson({404, "invalid_request_error", "no such model", "model", "model_not_found"}));
        QCOMPARE(error["error"]["message"], Json("no such model"));
        QCOMPARE(error["error"]["type"], Json("invalid_request_error"));
        QCOMPARE(error["error"]["param"], Json("model"));
        QCOMPARE(error["error"]["code"], Json("model_not_found"));
        const Json bare = Json::parse(errorJson({500, "server_error", "x", "", ""}));
        QVERIFY(bare["error"]["param"].is_null() && bare["error"]["code"].is_null());
    }
};

QTEST_GUILESS_MAIN(TestOpenAiRequest)
#include "testopenairequest.moc"
