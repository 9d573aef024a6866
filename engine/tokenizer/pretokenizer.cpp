#include "tokenizer/pretokenizer.h"

#include <unordered_map>

#include <nlohmann/json.hpp>

#include "tokenizer/pipelinesteps.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace corolla {

namespace {

// How the matches of a pattern become pieces, as in the `behavior` of Split.
enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Result<Behavior> parseBehavior(const std::string &name)
{
    if (name == "Removed")
        return Behavior::Removed;
    if (name == "Isolated")
        return Behavior::Isolated;
    if (name == "MergedWithPrevious")
        return Behavior::MergedWithPrevious;
    if (name == "MergedWithNext")
        return Behavior::MergedWithNext;
    if (name == "Contiguous")
        return Behavior::Contiguous;
    return makeError(ErrorCode::Format, "tokenizer.json: unknown split behavior '" + name + "'");
}

// Cuts `text` at the given match ranges and reassembles the parts by `behavior`.
void splitByMatches(const std::string &text,
                    const std::vector<std::pair<std::size_t, std::size_t>> &matches,
                    Behavior behavior, bool invert, std::vector<std::string> &out)
{
    struct Part {
        std::size_t begin, end;
        bool isMatch;
    };
    std::vector<Part> parts;
    std::size_t last = 0;
    for (const auto &[begin, end] : matches) {
        if (begin > last)
            parts.push_back({last, begin, invert});
        parts.push_back({begin, end, !invert});
        last = end;
    }
    if (last < text.size())
        parts.push_back({last, text.size(), invert});

    std::vector<std::string> pieces;
    bool previousWasMatch = false;
    std::string pending; // matches waiting for the next part (MergedWithNext); never empty matches
    for (const Part &part : parts) {
        const std::string piece = text.substr(part.begin, part.end - part.begin);
        switch (behavior) {
        case Behavior::Removed:
            if (!part.isMatch)
                pieces.push_back(piece);
            break;
        case Behavior::Isolated: pieces.push_back(piece); break;
        case Behavior::MergedWithPrevious:
            if (part.isMatch && !pieces.empty() && !previousWasMatch)
                pieces.back() += piece;
            else
                pieces.push_back(piece);
            break;
        case Behavior::MergedWithNext:
            if (part.isMatch) {
                pending += piece;
            } else {
                pieces.push_back(pending + piece);
                pending.clear();
            }
            break;
        case Behavior::Contiguous:
            if (part.isMatch && previousWasMatch && !pieces.empty())
                pieces.back() += piece;
            else
                pieces.push_back(piece);
            break;
        }
        previousWasMatch = part.isMatch;
    }
    if (!pending.empty())
        pieces.push_back(pending);
    for (std::string &piece : pieces) {
        if (!piece.empty())
            out.push_back(std::move(piece));
    }
}

class RegexSplit : public PreTokenizer {
public:
    RegexSplit(Regex regex, Behavior behavior, bool invert)
        : m_regex(std::move(regex))
        , m_behavior(behavior)
        , m_invert(invert)
    {
    }
    void split(std::vector<std::string> &pieces, bool /*inputStart*/) const override
    {
        std::vector<std::string> out;
        for (const std::string &piece : pieces)
            splitByMatches(piece, m_regex.findAll(piece), m_behavior, m_invert, out);
        pieces = std::move(out);
    }

private:
    Regex m_regex;
    Behavior m_behavior;
    bool m_invert;
};

// GPT-2's pattern, used by ByteLevel when use_regex is set.
constexpr const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel : public PreTokenizer {
public:
    ByteLevel(bool addPrefixSpace, std::optional<Regex> regex)
        : m_addPrefixSpace(addPrefixSpace)
        , m_regex(std::move(regex))
    {
    }
    void split(std::vector<std::string> &pieces, bool /*inputStart*/) const override
    {
        std::vector<std::string> out;
        for (std::string piece : pieces) {
            if (m_addPrefixSpace && piece.rfind(' ', 0) != 0)
                piece.insert(piece.begin(), ' ');
            if (m_regex)
                splitByMatches(piece, m_regex->findAll(piece), Behavior::Isolated, false, out);
            else
                out.push_back(piece);
        }
        const auto &alphabet = byteLevelAlphabet();
        for (std::string &piece : out) {
            std::string mapped;
            for (unsigned char byte : piece)
                mapped += alphabet[byte];
            piece = std::move(mapped);
        }
        pieces = std::move(out);
    }

private:
    bool m_addPrefixSpace;
    std::optional<Regex> m_regex;
};

class Metaspace : public PreTokenizer {
public:
    Metaspace(std::string replacement, std::string prependScheme, bool split)
        : m_replacement(std::move(replacement))
        , m_prependScheme(std::move(prependScheme))
        , m_split(split)
    {
    }
    void split(std::vector<std::string> &pieces, bool inputStart) const override
    {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            std::string text;
            for (char c : pieces[i]) {
                if (c == ' ')
                    text += m_replacement;
                else
                    text += c;
            }
            const bool prepend =
                m_prependScheme == "always" || (m_prependScheme == "first" && inputStart && i == 0);
            if (prepend && text.rfind(m_replacement, 0) != 0)
                text = m_replacement + text;
            if (!m_split) {
                out.push_back(text);
                continue;
            }
            std::vector<std::pair<std::size_t, std::size_t>> matches;
            for (std::size_t at = text.find(m_replacement); at != std::string::npos;
                 at = text.find(m_replacement, at + m_replacement.size()))
                matches.emplace_back(at, at + m_replacement.size());
            splitByMatches(text, matches, Behavior::MergedWithNext, false, out);
        }
        pieces = std::move(out);
    }

private:
    std::string m_replacement, m_prependScheme;
    bool m_split;
};

class Sequence : public PreTokenizer {
public:
    explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps)
        : m_steps(std::move(steps))
    {
    }
    void split(std::vector<std::string> &pieces, bool inputStart) const override
    {
        for (const auto &step : m_steps)
            step->split(pieces, inputStart);
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> m_steps;
};

Result<std::unique_ptr<PreTokenizer>> regexSplit(const std::string &pattern, Behavior behavior,
                                                 bool invert)
{
    auto regex = Regex::compile(pattern);
    if (!regex)
        return regex.error();
    return std::unique_ptr<PreTokenizer>(
        new RegexSplit(std::move(regex).value(), behavior, invert));
}

std::string escapeLiteral(const std::string &literal)
{
    return "\\Q" + literal + "\\E";
}

} // namespace

const std::vector<std::string> &byteLevelAlphabet()
{
    static const std::vector<std::string> alphabet = [] {
        std::vector<std::string> table(256);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            table[std::size_t(b)] = utf8::encode(printable ? char32_t(b) : char32_t(256 + extra++));
        }
        return table;
    }();
    return alphabet;
}

int byteOfByteLevelCharacter(const std::string &character)
{
    static const std::unordered_map<std::string, int> inverse = [] {
        std::unordered_map<std::string, int> map;
        const auto &alphabet = byteLevelAlphabet();
        for (int b = 0; b < 256; ++b)
            map[alphabet[std::size_t(b)]] = b;
        return map;
    }();
    const auto it = inverse.find(character);
    return it == inverse.end() ? -1 : it->second;
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::fromJson(const nlohmann::json &json)
{
    if (json.is_null())
        return std::unique_ptr<PreTokenizer>();
    const std::string type = json.value("type", "");
    if (type == "Sequence") {
        auto steps = parsePipelineSteps<PreTokenizer>(json, "pretokenizers");
        if (!steps)
            return steps.error();
        return std::unique_ptr<PreTokenizer>(new Sequence(std::move(steps).value()));
    }
    if (type == "ByteLevel") {
        std::optional<Regex> regex;
        if (json.value("use_regex", true)) {
            auto compiled = Regex::compile(kGpt2Pattern);
            if (!compiled)
                return compiled.error();
            regex = std::move(compiled).value();
        }
        return std::unique_ptr<PreTokenizer>(
            new ByteLevel(json.value("add_prefix_space", true), std::move(regex)));
    }
    if (type == "Split") {
        auto behavior = parseBehavior(json.value("behavior", "Isolated"));
        if (!behavior)
            return behavior.error();
        const auto &pattern = json.at("pattern");
        const std::string regex = pattern.contains("Regex")
                                      ? pattern["Regex"].get<std::string>()
                                      : escapeLiteral(pattern.value("String", ""));
        return regexSplit(regex, *behavior, json.value("invert", false));
    }
    if (type == "Metaspace") {
        std::string scheme = json.value("prepend_scheme", "");
        if (scheme.empty())
            scheme = json.value("add_prefix_space", true) ? "always" : "never";
        return std::unique_ptr<PreTokenizer>(new Metaspace(
            json.value("replacement", "\xE2\x96\x81"), scheme, json.value("split", true)));
    }
    if (type == "Digits")
        return regexSplit(json.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+",
                          Behavior::Isolated, false);
    if (type == "Whitespace")
        return regexSplit(R"(\w+|[^\w\s]+)", Behavior::Removed, true);
    if (type == "WhitespaceSplit")
        return regexSplit(R"(\s+)", Behavior::Removed, false);
    if (type == "Punctuation") {
        auto behavior = parseBehavior(json.value("behavior", "Isolated"));
        if (!behavior)
            return behavior.error();
        return regexSplit(R"([\p{P}!-/:-@\[-`{-~])", *behavior, false);
    }
    if (type == "BertPreTokenizer") {
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        auto whitespace = regexSplit(R"(\s+)", Behavior::Removed, false);
        auto punctuation = regexSplit(R"([\p{P}!-/:-@\[-`{-~])", Behavior::Isolated, false);
        if (!whitespace)
            return whitespace.error();
        if (!punctuation)
            return punctuation.error();
        steps.push_back(std::move(whitespace).value());
        steps.push_back(std::move(punctuation).value());
        return std::unique_ptr<PreTokenizer>(new Sequence(std::move(steps)));
    }
    return makeError(ErrorCode::Unsupported,
                     "tokenizer.json: pre_tokenizer type '" + type + "' is not supported");
}

} // namespace corolla
