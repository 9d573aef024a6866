#include "train/trainingdata.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tokenizer/chattemplate.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

using Json = nlohmann::ordered_json;

Error invalid(const std::string &why)
{
    return makeError(ErrorCode::Format, why);
}

// How many leading tokens `a` and `b` share: where a text's tokens stop being a prefix of a
// longer text's (the tokens at the seam may merge).
std::size_t sharedPrefix(const std::vector<std::int64_t> &a, const std::vector<std::int64_t> &b)
{
    return std::size_t(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
}

Result<std::string> stringField(const Json &object, const char *name)
{
    const auto found = object.find(name);
    if (found == object.end() || !found->is_string())
        return invalid(std::string("\"") + name + "\" must be a string");
    return found->get<std::string>();
}

// Parses lines with one tokenizer; the chat template is parsed at the first "messages" line.
class ExampleParser {
public:
    ExampleParser(const Tokenizer &tokenizer, const TrainingDataOptions &options)
        : m_tokenizer(tokenizer)
        , m_options(options)
    {
    }

    Result<TrainingExample> parse(const std::string &line)
    {
        const Json json = Json::parse(line, nullptr, false);
        if (json.is_discarded())
            return invalid("not valid JSON");
        if (!json.is_object())
            return invalid("not a JSON object");
        Result<TrainingExample> example = invalid("");
        if (json.contains("messages"))
            example = fromMessages(json["messages"]);
        else if (json.contains("prompt") || json.contains("completion"))
            example = fromCompletion(json);
        else if (json.contains("text"))
            example = fromText(json);
        else
            return invalid("no \"text\", \"prompt\"/\"completion\" or \"messages\" key");
        if (!example)
            return example;
        if (std::int64_t(example->ids.size()) > m_options.maxTokens)
            return invalid(std::to_string(example->ids.size()) + " tokens, more than the "
                           + std::to_string(m_options.maxTokens) + " allowed");
        if (example->targets() == 0)
            return invalid("no tokens to learn from");
        return example;
    }

private:
    Result<std::vector<std::int64_t>> encode(const std::string &text, SpecialTokens special) const
    {
        return m_tokenizer.encode(text, special);
    }

    static TrainingExample withTargets(std::vector<std::int64_t> ids, std::size_t from,
                                       std::size_t to)
    {
        TrainingExample example;
        example.target.assign(ids.size(), 0);
        for (std::size_t t = std::max<std::size_t>(from, 1); t < std::min(to, ids.size()); ++t)
            example.target[t] = 1;
        example.ids = std::move(ids);
        return example;
    }

    Result<TrainingExample> fromText(const Json &json) const
    {
        auto text = stringField(json, "text");
        if (!text)
            return text.error();
        auto ids = encode(*text, SpecialTokens::Include);
        if (!ids)
            return ids.error();
        const std::size_t size = ids->size();
        return withTargets(std::move(*ids), 1, size);
    }

    Result<TrainingExample> fromCompletion(const Json &json) const
    {
        auto prompt = stringField(json, "prompt");
        auto completion = stringField(json, "completion");
        if (!prompt || !completion)
            return !prompt ? prompt.error() : completion.error();
        if (completion->empty())
            return invalid("\"completion\" is empty");
        auto promptIds = encode(*prompt, SpecialTokens::Include);
        auto ids = encode(*prompt + *completion, SpecialTokens::Include);
        if (!promptIds || !ids)
            return !promptIds ? promptIds.error() : ids.error();
        // The completion ends with the end token, so that the model learns to stop there.
        if (const auto eos = m_tokenizer.eosTokenId(); eos && (ids->empty() || ids->back() != *eos))
            ids->push_back(*eos);
        const std::size_t start = sharedPrefix(*promptIds, *ids), size = ids->size();
        return withTargets(std::move(*ids), start, size);
    }

    Result<TrainingExample> fromMessages(const Json &messages)
    {
        if (!messages.is_array() || messages.empty())
            return invalid("\"messages\" must be a non-empty array");
        for (const Json &message : messages) {
            if (!message.is_object() || !message.contains("role") || !message["role"].is_string()
                || !message.contains("content") || !message["content"].is_string())
                return invalid("every message must be an object with string \"role\" and "
                               "\"content\"");
        }
        if (!m_template) {
            auto parsed = ChatTemplate::parse(m_tokenizer.chatTemplate());
            if (!parsed)
                return parsed.error();
            m_template = std::make_unique<ChatTemplate>(std::move(*parsed));
            m_variables = chatTemplateVariables(m_tokenizer);
        }
        auto renderedIds = [&](std::size_t count,
                               bool generationPrompt) -> Result<std::vector<std::int64_t>> {
            const Json head(messages.begin(), messages.begin() + std::ptrdiff_t(count));
            auto text = m_template->render(head, generationPrompt, m_variables);
            if (!text)
                return text.error();
            return encode(*text, SpecialTokens::Omit);
        };
        auto ids = renderedIds(messages.size(), false);
        if (!ids)
            return ids.error();
        TrainingExample example = withTargets(*ids, 0, 0);
        bool anyAssistant = false;
        for (std::size_t i = 0; i < messages.size(); ++i) {
            if (messages[i]["role"] != "assistant")
                continue;
            anyAssistant = true;
            // The turn's tokens: from where the conversation up to it, with the generation
            // prompt, stops matching, to where the conversation including it stops matching.
            auto before = renderedIds(i, true);
            auto through = renderedIds(i + 1, false);
            if (!before || !through)
                return !before ? before.error() : through.error();
            const std::size_t from = std::max<std::size_t>(sharedPrefix(*before, *ids), 1);
            const std::size_t to = sharedPrefix(*through, *ids);
            for (std::size_t t = from; t < to; ++t)
                example.target[t] = 1;
        }
        if (!anyAssistant)
            return invalid("the messages have no \"assistant\" turn to learn from");
        return example;
    }

    const Tokenizer &m_tokenizer;
    TrainingDataOptions m_options;
    std::unique_ptr<ChatTemplate> m_template;
    Json m_variables;
};

} // namespace

std::int64_t TrainingExample::targets() const
{
    return std::count(target.begin(), target.end(), std::uint8_t(1));
}

Result<TrainingExample> parseTrainingExample(const std::string &line, const Tokenizer &tokenizer,
                                             const TrainingDataOptions &options)
{
    return ExampleParser(tokenizer, options).parse(line);
}

Result<std::vector<TrainingExample>> readTrainingData(const std::string &path,
                                                      const Tokenizer &tokenizer,
                                                      const TrainingDataOptions &options)
{
    std::ifstream file(path, std::ios::binary);
    if (!file)
        return makeError(ErrorCode::NotFound, "cannot open the training data " + path);
    ExampleParser parser(tokenizer, options);
    std::vector<TrainingExample> examples;
    std::string line;
    for (std::int64_t number = 1; std::getline(file, line); ++number) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        auto example = parser.parse(line);
        if (!example)
            return makeError(ErrorCode::Format,
                             path + ":" + std::to_string(number) + ": " + example.error().message);
        examples.push_back(std::move(*example));
    }
    if (file.bad())
        return makeError(ErrorCode::Io, "reading " + path + " failed");
    if (examples.empty())
        return makeError(ErrorCode::InvalidArgument, path + " holds no training examples");
    return examples;
}

} // namespace corolla
