#include "tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "tokenizer/pipelinesteps.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/replacepattern.h"
#include "tokenizer/utf8.h"

namespace corolla {

namespace {

// Byte-level characters back to bytes; a token with a character outside the alphabet (an
// added token such as a non-ASCII special) is kept as its own UTF-8.
class ByteLevelDecoder : public Decoder {
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        std::string bytes;
        for (const std::string &token : tokens) {
            std::string mapped;
            bool complete = true;
            for (const std::string &character : utf8::characters(token)) {
                const int byte = byteOfByteLevelCharacter(character);
                if (byte < 0) {
                    complete = false;
                    break;
                }
                mapped += char(byte);
            }
            bytes += complete ? mapped : token;
        }
        tokens = {utf8::lossy(bytes)};
    }
};

// The value of a hexadecimal digit, or -1.
int hexDigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Runs of <0xNN> tokens become their bytes when those form valid UTF-8, else one U+FFFD each.
class ByteFallback : public Decoder {
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        std::vector<std::string> out;
        std::string pendingBytes;
        std::size_t pendingCount = 0;
        auto flush = [&] {
            if (pendingCount == 0)
                return;
            if (utf8::isValid(pendingBytes)) {
                out.push_back(pendingBytes);
            } else {
                for (std::size_t i = 0; i < pendingCount; ++i)
                    out.push_back("\xEF\xBF\xBD");
            }
            pendingBytes.clear();
            pendingCount = 0;
        };
        for (const std::string &token : tokens) {
            if (token.size() == 6 && token.rfind("<0x", 0) == 0 && token.back() == '>') {
                const int high = hexDigit(token[3]), low = hexDigit(token[4]);
                if (high >= 0 && low >= 0) {
                    pendingBytes += char(high * 16 + low);
                    ++pendingCount;
                    continue;
                }
            }
            flush();
            out.push_back(token);
        }
        flush();
        tokens = std::move(out);
    }
};

class Fuse : public Decoder {
public:
    void decode(std::vector<std::string> &tokens) const override
    {
        std::string joined;
        for (const std::string &token : tokens)
            joined += token;
        tokens = {joined};
    }
};

// Removes up to `start` leading and `stop` trailing copies of `content` from each token.
class Strip : public Decoder {
public:
    Strip(std::string content, std::size_t start, std::size_t stop)
        : m_content(std::move(content))
        , m_start(start)
        , m_stop(stop)
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (std::string &token : tokens) {
            for (std::size_t i = 0;
                 i < m_start && !m_content.empty() && token.rfind(m_content, 0) == 0; ++i)
                token.erase(0, m_content.size());
            for (std::size_t i = 0;
                 i < m_stop && !m_content.empty() && token.size() >= m_content.size()
                 && token.compare(token.size() - m_content.size(), m_content.size(), m_content)
                        == 0;
                 ++i)
                token.erase(token.size() - m_content.size());
        }
    }

private:
    std::string m_content;
    std::size_t m_start, m_stop;
};

class Replace : public Decoder {
public:
    explicit Replace(ReplacePattern pattern)
        : m_pattern(std::move(pattern))
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (std::string &token : tokens)
            token = m_pattern.apply(token);
    }

private:
    ReplacePattern m_pattern;
};

// The replacement character back to spaces; the first token loses its leading space when
// the pre-tokenizer prepended one.
class Metaspace : public Decoder {
public:
    Metaspace(std::string replacement, bool stripFirst)
        : m_replacement(std::move(replacement))
        , m_stripFirst(stripFirst)
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::string out;
            const std::string &token = tokens[i];
            for (std::size_t at = 0; at < token.size();) {
                if (token.compare(at, m_replacement.size(), m_replacement) == 0) {
                    out += ' ';
                    at += m_replacement.size();
                } else {
                    out += token[at++];
                }
            }
            if (i == 0 && m_stripFirst && !out.empty() && out.front() == ' ')
                out.erase(0, 1);
            tokens[i] = std::move(out);
        }
    }

private:
    std::string m_replacement;
    bool m_stripFirst;
};

class Sequence : public Decoder {
public:
    explicit Sequence(std::vector<std::unique_ptr<Decoder>> steps)
        : m_steps(std::move(steps))
    {
    }
    void decode(std::vector<std::string> &tokens) const override
    {
        for (const auto &step : m_steps)
            step->decode(tokens);
    }

private:
    std::vector<std::unique_ptr<Decoder>> m_steps;
};

} // namespace

Result<std::unique_ptr<Decoder>> Decoder::fromJson(const nlohmann::json &json)
{
    if (json.is_null())
        return std::unique_ptr<Decoder>();
    const std::string type = json.value("type", "");
    if (type == "ByteLevel")
        return std::unique_ptr<Decoder>(new ByteLevelDecoder);
    if (type == "ByteFallback")
        return std::unique_ptr<Decoder>(new ByteFallback);
    if (type == "Fuse")
        return std::unique_ptr<Decoder>(new Fuse);
    if (type == "Strip")
        return std::unique_ptr<Decoder>(
            new Strip(json.value("content", " "), json.value("start", 0), json.value("stop", 0)));
    if (type == "Replace") {
        auto pattern = ReplacePattern::fromJson(json);
        if (!pattern)
            return pattern.error();
        return std::unique_ptr<Decoder>(new Replace(std::move(pattern).value()));
    }
    if (type == "Metaspace") {
        const std::string scheme =
            json.value("prepend_scheme", json.value("add_prefix_space", true) ? "always" : "never");
        return std::unique_ptr<Decoder>(
            new Metaspace(json.value("replacement", "\xE2\x96\x81"), scheme != "never"));
    }
    if (type == "Sequence") {
        auto steps = parsePipelineSteps<Decoder>(json, "decoders");
        if (!steps)
            return steps.error();
        return std::unique_ptr<Decoder>(new Sequence(std::move(steps).value()));
    }
    return makeError(ErrorCode::Unsupported,
                     "tokenizer.json: decoder type '" + type + "' is not supported");
}

} // namespace corolla
