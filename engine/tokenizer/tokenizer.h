#pragma once
// A Hugging Face tokenizer read from tokenizer.json (and tokenizer_config.json): added tokens,
// normalizer, pre-tokenizer, BPE model, post-processor and decoder, producing exactly the
// ids of the reference `tokenizers` library.
// Thread: encode() and decode() are const and may run on several threads at once.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "tokenizer/bpemodel.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"

namespace corolla {

struct AddedToken {
    std::int64_t id = 0;
    std::string content;
    bool special = false;
    bool leftStrip = false;  // absorbs the whitespace before it
    bool rightStrip = false; // absorbs the whitespace after it
    bool singleWord = false; // matches only as a whole word
    bool normalized = false; // matched in the normalized text instead of the raw input
};

// Whether special tokens are part of a result: added by the post-processor when encoding,
// kept in the text when decoding.
enum class SpecialTokens { Omit, Include };

class Tokenizer {
public:
    // Reads `<directory>/tokenizer.json` and, when present, `tokenizer_config.json`.
    static Result<std::unique_ptr<Tokenizer>> load(const std::string &directory);
    // Builds a tokenizer from the text of tokenizer.json (and optionally tokenizer_config.json).
    static Result<std::unique_ptr<Tokenizer>> fromJson(const std::string &tokenizerJson,
                                                       const std::string &configJson = {});

    // Token ids of `text`; SpecialTokens::Include adds the post-processor's BOS/EOS and such.
    // Text that is not valid UTF-8 is an error.
    Result<std::vector<std::int64_t>> encode(const std::string &text, SpecialTokens special) const;
    // The text of `ids`; SpecialTokens::Omit leaves special tokens out of it. Ids outside the
    // vocabulary are an error.
    Result<std::string> decode(const std::vector<std::int64_t> &ids, SpecialTokens special) const;

    std::optional<std::int64_t> tokenToId(const std::string &token) const;
    bool isSpecial(std::int64_t id) const;
    std::int64_t vocabSize() const;
    // bos_token / eos_token of tokenizer_config.json, when they name tokens of the vocabulary.
    std::optional<std::int64_t> bosTokenId() const { return m_bos; }
    std::optional<std::int64_t> eosTokenId() const { return m_eos; }
    // The raw chat_template of tokenizer_config.json, empty when there is none.
    const std::string &chatTemplate() const { return m_chatTemplate; }

private:
    Tokenizer(BpeModel model)
        : m_model(std::move(model))
    {
    }
    // Calls onText for each stretch of `text` between the added tokens whose `normalized`
    // flag equals `normalizedTokens`, and onToken for each such token, in order.
    template <typename OnText, typename OnToken>
    void splitOnAddedTokens(const std::string &text, bool normalizedTokens, OnText &&onText,
                            OnToken &&onToken) const;
    // Normalizes a stretch of raw text, splits it on normalized added tokens, and encodes
    // the rest through the pre-tokenizer and the model.
    void encodeStretch(const std::string &text, bool inputStart,
                       std::vector<std::int64_t> &ids) const;
    std::vector<std::int64_t> postProcess(std::vector<std::int64_t> ids) const;

    BpeModel m_model;
    std::unique_ptr<Normalizer> m_normalizer;
    std::unique_ptr<PreTokenizer> m_preTokenizer;
    std::unique_ptr<Decoder> m_decoder;
    std::vector<AddedToken> m_added;                 // longest content first
    std::map<std::int64_t, std::size_t> m_addedById; // id -> index in m_added
    // The post-processor's single-sequence template: ids before and after the text.
    std::vector<std::int64_t> m_prefix, m_suffix;
    std::optional<std::int64_t> m_bos, m_eos;
    std::string m_chatTemplate;
};

} // namespace corolla
