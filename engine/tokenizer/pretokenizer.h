#pragma once
// The pre-tokenizers of tokenizer.json: ByteLevel, Split, Metaspace, Digits, Whitespace,
// WhitespaceSplit, Punctuation, BertPreTokenizer and Sequence. Each refines a list of pieces;
// the model then encodes every piece on its own.
// Thread: split() is const and may run on any thread.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace corolla {

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Replaces each piece by the pieces it splits into (and, for ByteLevel, maps bytes to
    // the printable characters of the byte-level vocabulary). `inputStart`: the first piece
    // begins the whole input (not text after an added token), which Metaspace's "first"
    // prepend scheme depends on.
    virtual void split(std::vector<std::string> &pieces, bool inputStart) const = 0;

    // Builds what a tokenizer.json "pre_tokenizer" object describes; null -> nullptr.
    static Result<std::unique_ptr<PreTokenizer>> fromJson(const nlohmann::json &json);
};

// GPT-2's reversible map from bytes to printable characters (UTF-8 strings), and back.
const std::vector<std::string> &byteLevelAlphabet();
// The byte a byte-level character stands for, or -1.
int byteOfByteLevelCharacter(const std::string &character);

} // namespace corolla
