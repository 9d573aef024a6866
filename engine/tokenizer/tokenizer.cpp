#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/textfile.h"
#include "tokenizer/utf8.h"

namespace corolla {

namespace {

using Json = nlohmann::json;

bool isWordByte(unsigned char c)
{
    return std::isalnum(c) || c == '_' || c >= 0x80;
}

bool isSpaceByte(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The ids a post-processor adds around a single sequence.
Result<void> parsePostProcessor(const Json &json, const Tokenizer &tokenizer,
                                std::vector<std::int64_t> &prefix,
                                std::vector<std::int64_t> &suffix)
{
    if (json.is_null())
        return {};
    const std::string type = json.value("type", "");
    auto idOf = [&](const Json &pair) -> Result<std::int64_t> {
        if (pair.is_array() && pair.size() == 2 && pair[1].is_number_integer())
            return pair[1].get<std::int64_t>();
        return makeError(ErrorCode::Format, "tokenizer.json: post_processor token is malformed");
    };
    if (type == "ByteLevel")
        return {};
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        auto cls = idOf(json.value("cls", Json()));
        auto sep = idOf(json.value("sep", Json()));
        if (!cls || !sep)
            return makeError(ErrorCode::Format, "tokenizer.json: " + type + " needs cls and sep");
        prefix.push_back(*cls);
        suffix.push_back(*sep);
        return {};
    }
    if (type == "TemplateProcessing") {
        const Json &specials = json.value("special_tokens", Json::object());
        bool afterSequence = false;
        for (const Json &item : json.value("single", Json::array())) {
            if (item.contains("Sequence")) {
                afterSequence = true;
                continue;
            }
            const std::string name =
                item.contains("SpecialToken") ? item["SpecialToken"].value("id", "") : "";
            const auto special = specials.find(name);
            if (special == specials.end())
                return makeError(ErrorCode::Format,
                                 "tokenizer.json: template names unknown special token '" + name
                                     + "'");
            for (const Json &id : special->value("ids", Json::array()))
                (afterSequence ? suffix : prefix).push_back(id.get<std::int64_t>());
        }
        return {};
    }
    if (type == "Sequence") {
        for (const Json &step : json.value("processors", Json::array())) {
            if (auto parsed = parsePostProcessor(step, tokenizer, prefix, suffix); !parsed)
                return parsed;
        }
        return {};
    }
    return makeError(ErrorCode::Unsupported,
                     "tokenizer.json: post_processor type '" + type + "' is not supported");
}

// A token name from tokenizer_config.json: a string, or an AddedToken object with "content".
std::string tokenName(const Json &config, const char *key)
{
    const auto it = config.find(key);
    if (it == config.end())
        return {};
    if (it->is_string())
        return it->get<std::string>();
    if (it->is_object())
        return it->value("content", "");
    return {};
}

} // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string &directory)
{
    const std::filesystem::path folder(directory);
    auto tokenizer = readTextFile((folder / "tokenizer.json").string());
    if (!tokenizer)
        return tokenizer.error();
    std::string config;
    if (std::filesystem::exists(folder / "tokenizer_config.json")) {
        auto text = readTextFile((folder / "tokenizer_config.json").string());
        if (!text)
            return text.error();
        config = std::move(text).value();
    }
    return fromJson(*tokenizer, config);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::fromJson(const std::string &tokenizerJson,
                                                       const std::string &configJson)
{
    const Json json = Json::parse(tokenizerJson, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return makeError(ErrorCode::Format,
                         "tokenizer.json: not a JSON object (or not valid UTF-8)");
    if (!json.contains("model"))
        return makeError(ErrorCode::Format, "tokenizer.json: no 'model'");
    auto model = BpeModel::fromJson(json["model"]);
    if (!model)
        return model.error();
    auto tokenizer = std::unique_ptr<Tokenizer>(new Tokenizer(std::move(model).value()));

    auto normalizer = Normalizer::fromJson(json.value("normalizer", Json()));
    auto preTokenizer = PreTokenizer::fromJson(json.value("pre_tokenizer", Json()));
    auto decoder = Decoder::fromJson(json.value("decoder", Json()));
    if (!normalizer)
        return normalizer.error();
    if (!preTokenizer)
        return preTokenizer.error();
    if (!decoder)
        return decoder.error();
    tokenizer->m_normalizer = std::move(normalizer).value();
    tokenizer->m_preTokenizer = std::move(preTokenizer).value();
    tokenizer->m_decoder = std::move(decoder).value();

    for (const Json &entry : json.value("added_tokens", Json::array())) {
        AddedToken token;
        token.id = entry.value("id", std::int64_t(-1));
        token.content = entry.value("content", "");
        token.special = entry.value("special", false);
        token.leftStrip = entry.value("lstrip", false);
        token.rightStrip = entry.value("rstrip", false);
        token.singleWord = entry.value("single_word", false);
        token.normalized = entry.value("normalized", !token.special);
        if (token.id < 0 || token.content.empty() || !utf8::isValid(token.content))
            return makeError(ErrorCode::Format,
                             "tokenizer.json: an added token has no id or content");
        tokenizer->m_added.push_back(token);
    }
    std::stable_sort(tokenizer->m_added.begin(), tokenizer->m_added.end(),
                     [](const AddedToken &a, const AddedToken &b) {
                         return a.content.size() > b.content.size();
                     });
    for (std::size_t i = 0; i < tokenizer->m_added.size(); ++i)
        tokenizer->m_addedById[tokenizer->m_added[i].id] = i;

    const Json config =
        configJson.empty() ? Json::object() : Json::parse(configJson, nullptr, false);
    if (config.is_discarded() || !config.is_object())
        return makeError(ErrorCode::Format, "tokenizer_config.json: not a JSON object");
    tokenizer->m_bos = tokenizer->tokenToId(tokenName(config, "bos_token"));
    tokenizer->m_eos = tokenizer->tokenToId(tokenName(config, "eos_token"));
    if (config.contains("chat_template") && config["chat_template"].is_string())
        tokenizer->m_chatTemplate = config["chat_template"].get<std::string>();

    const Json &post = json.value("post_processor", Json());
    if (auto parsed =
            parsePostProcessor(post, *tokenizer, tokenizer->m_prefix, tokenizer->m_suffix);
        !parsed)
        return parsed.error();
    if (post.is_null()) {
        // Without a post-processor, transformers follows add_bos_token / add_eos_token.
        if (config.value("add_bos_token", false) && tokenizer->m_bos)
            tokenizer->m_prefix.push_back(*tokenizer->m_bos);
        if (config.value("add_eos_token", false) && tokenizer->m_eos)
            tokenizer->m_suffix.push_back(*tokenizer->m_eos);
    }
    return tokenizer;
}

std::optional<std::int64_t> Tokenizer::tokenToId(const std::string &token) const
{
    if (token.empty())
        return std::nullopt;
    for (const AddedToken &added : m_added) {
        if (added.content == token)
            return added.id;
    }
    return m_model.tokenToId(token);
}

bool Tokenizer::isSpecial(std::int64_t id) const
{
    const auto it = m_addedById.find(id);
    return it != m_addedById.end() && m_added[it->second].special;
}

std::int64_t Tokenizer::vocabSize() const
{
    std::int64_t size = m_model.vocabSize();
    for (const AddedToken &added : m_added)
        size = std::max(size, added.id + 1);
    return size;
}

template <typename OnText, typename OnToken>
void Tokenizer::splitOnAddedTokens(const std::string &text, bool normalizedTokens, OnText &&onText,
                                   OnToken &&onToken) const
{
    // The longest token at the leftmost position wins; lstrip/rstrip absorb the whitespace
    // beside a token, single_word tokens match only between non-word characters.
    std::size_t segmentStart = 0, searchFrom = 0;
    while (searchFrom < text.size()) {
        std::size_t bestAt = std::string::npos;
        const AddedToken *best = nullptr;
        for (const AddedToken &added : m_added) {
            if (added.normalized != normalizedTokens)
                continue;
            std::size_t at = text.find(added.content, searchFrom);
            while (at != std::string::npos && added.singleWord) {
                const std::size_t end = at + added.content.size();
                const bool wordBefore =
                    at > 0 && isWordByte(static_cast<unsigned char>(text[at - 1]));
                const bool wordAfter =
                    end < text.size() && isWordByte(static_cast<unsigned char>(text[end]));
                if (!wordBefore && !wordAfter)
                    break;
                at = text.find(added.content, at + 1);
            }
            if (at != std::string::npos && at < bestAt) {
                bestAt = at;
                best = &added;
            }
        }
        if (!best)
            break;
        std::size_t segmentEnd = bestAt;
        if (best->leftStrip) {
            while (segmentEnd > segmentStart && isSpaceByte(text[segmentEnd - 1]))
                --segmentEnd;
        }
        onText(text.substr(segmentStart, segmentEnd - segmentStart), segmentStart);
        onToken(best->id);
        std::size_t next = bestAt + best->content.size();
        if (best->rightStrip) {
            while (next < text.size() && isSpaceByte(text[next]))
                ++next;
        }
        segmentStart = searchFrom = next;
    }
    onText(text.substr(segmentStart), segmentStart);
}

void Tokenizer::encodeStretch(const std::string &text, bool inputStart,
                              std::vector<std::int64_t> &ids) const
{
    if (text.empty())
        return;
    const std::string normalized = m_normalizer ? m_normalizer->normalize(text) : text;
    splitOnAddedTokens(
        normalized, true,
        [&](const std::string &stretch, std::size_t offset) {
            if (stretch.empty())
                return;
            std::vector<std::string> pieces = {stretch};
            if (m_preTokenizer)
                m_preTokenizer->split(pieces, inputStart && offset == 0);
            for (const std::string &piece : pieces) {
                if (!piece.empty())
                    m_model.encode(piece, ids);
            }
        },
        [&](std::int64_t id) { ids.push_back(id); });
}

Result<std::vector<std::int64_t>> Tokenizer::encode(const std::string &text,
                                                    SpecialTokens special) const
{
    if (!utf8::isValid(text))
        return makeError(ErrorCode::InvalidArgument, "the text is not valid UTF-8");
    // Tokens that are not normalized are found in the raw text first; each stretch between
    // them is normalized and then split on the normalized ones, as the reference does.
    std::vector<std::int64_t> ids;
    splitOnAddedTokens(
        text, false,
        [&](const std::string &stretch, std::size_t offset) {
            encodeStretch(stretch, offset == 0, ids);
        },
        [&](std::int64_t id) { ids.push_back(id); });
    return special == SpecialTokens::Include ? postProcess(std::move(ids)) : ids;
}

std::vector<std::int64_t> Tokenizer::postProcess(std::vector<std::int64_t> ids) const
{
    ids.insert(ids.begin(), m_prefix.begin(), m_prefix.end());
    ids.insert(ids.end(), m_suffix.begin(), m_suffix.end());
    return ids;
}

Result<std::string> Tokenizer::decode(const std::vector<std::int64_t> &ids,
                                      SpecialTokens special) const
{
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (std::int64_t id : ids) {
        const auto added = m_addedById.find(id);
        if (added != m_addedById.end()) {
            if (special == SpecialTokens::Include || !m_added[added->second].special)
                tokens.push_back(m_added[added->second].content);
            continue;
        }
        const std::string *token = m_model.idToToken(id);
        if (!token)
            return makeError(ErrorCode::InvalidArgument,
                             "token id " + std::to_string(id) + " is not in the vocabulary");
        tokens.push_back(*token);
    }
    if (m_decoder)
        m_decoder->decode(tokens);
    std::string text;
    for (const std::string &token : tokens)
        text += token;
    return utf8::lossy(text);
}

} // namespace corolla
