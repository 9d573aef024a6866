#pragma once
// The decoders of tokenizer.json: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace
// and Sequence. They turn the list of token strings back into text.
// Thread: decode() is const and may run on any thread.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace corolla {

class Decoder {
public:
    virtual ~Decoder() = default;
    // Transforms the token strings; the text is their concatenation, with ill-formed UTF-8
    // replaced by U+FFFD.
    virtual void decode(std::vector<std::string> &tokens) const = 0;

    // Builds what a tokenizer.json "decoder" object describes; null -> nullptr.
    static Result<std::unique_ptr<Decoder>> fromJson(const nlohmann::json &json);
};

} // namespace corolla
