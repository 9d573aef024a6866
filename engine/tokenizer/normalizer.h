#pragma once
// The normalizers of tokenizer.json: NFC, NFKC, NFD, NFKD, Prepend, Replace, Lowercase,
// Strip and Sequence, applied to each stretch of text between added tokens.
// Thread: normalize() is const and may run on any thread.

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace corolla {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual std::string normalize(const std::string &text) const = 0;

    // Builds the normalizer a tokenizer.json "normalizer" object describes; null -> nullptr.
    static Result<std::unique_ptr<Normalizer>> fromJson(const nlohmann::json &json);
};

} // namespace corolla
