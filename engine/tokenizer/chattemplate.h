#pragma once
// A model's chat template (the Jinja `chat_template` of tokenizer_config.json), rendered as
// transformers' apply_chat_template renders it; ChatML when a model ships no template.
// Thread: render() is const and may run on several threads at once.

#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tokenizer/jinja/ast.h"

namespace corolla {

class Tokenizer;

class ChatTemplate {
public:
    // Parses `source`; an empty source selects the fallback format.
    static Result<ChatTemplate> parse(const std::string &source);

    // Renders `messages` (a JSON array of {"role", "content", ...}). `variables` adds or
    // overrides template variables: bos_token, eos_token, tools, documents, ...
    Result<std::string>
    render(const nlohmann::ordered_json &messages, bool addGenerationPrompt,
           const nlohmann::ordered_json &variables = nlohmann::ordered_json::object()) const;

    bool isFallback() const { return m_body.empty(); }

private:
    jinja::Body m_body;
};

// The variables a template reads from the tokenizer: bos_token and eos_token (empty when the
// tokenizer has none).
nlohmann::ordered_json chatTemplateVariables(const Tokenizer &tokenizer);

} // namespace corolla
