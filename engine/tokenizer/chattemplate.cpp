#include "tokenizer/chattemplate.h"

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/value.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

Result<ChatTemplate> ChatTemplate::parse(const std::string &source)
{
    ChatTemplate chat;
    if (source.empty())
        return chat;
    auto body = jinja::parseTemplate(source);
    if (!body)
        return body.error();
    chat.m_body = std::move(body).value();
    return chat;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json &messages,
                                         bool addGenerationPrompt,
                                         const nlohmann::ordered_json &variables) const
{
    if (!messages.is_array())
        return makeError(ErrorCode::InvalidArgument, "messages must be a JSON array");
    for (const auto &message : messages) {
        if (!message.is_object() || !message.contains("role"))
            return makeError(ErrorCode::InvalidArgument, "every message needs a 'role'");
    }
    if (m_body.empty()) {
        // The fallback, ChatML: <|im_start|>role\ncontent<|im_end|>\n per message.
        std::string text;
        for (const auto &message : messages)
            text += "<|im_start|>" + jinja::toText(message["role"]) + "\n"
                    + jinja::toText(message.value("content", nlohmann::ordered_json("")))
                    + "<|im_end|>\n";
        if (addGenerationPrompt)
            text += "<|im_start|>assistant\n";
        return text;
    }
    nlohmann::ordered_json context = {{"messages", messages},
                                      {"add_generation_prompt", addGenerationPrompt}};
    for (const auto &[key, value] : variables.items())
        context[key] = value;
    jinja::Interpreter interpreter;
    return interpreter.render(m_body, context);
}

nlohmann::ordered_json chatTemplateVariables(const Tokenizer &tokenizer)
{
    auto text = [&](std::optional<std::int64_t> id) -> std::string {
        if (!id)
            return "";
        auto decoded = tokenizer.decode({*id}, SpecialTokens::Include);
        return decoded ? *decoded : "";
    };
    return {{"bos_token", text(tokenizer.bosTokenId())},
            {"eos_token", text(tokenizer.eosTokenId())}};
}

} // namespace corolla
