#pragma once
// The BPE model of tokenizer.json: merges applied by rank to each piece, with byte fallback
// (<0xNN> tokens) or an unknown token for symbols outside the vocabulary.
// Thread: encode() may run on several threads (the cache is guarded).

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace corolla {

class BpeModel {
public:
    static Result<BpeModel> fromJson(const nlohmann::json &model);
    BpeModel(BpeModel &&other) noexcept;
    BpeModel &operator=(BpeModel &&other) noexcept;

    // Appends the ids of one pre-tokenized piece to `ids`.
    void encode(const std::string &piece, std::vector<std::int64_t> &ids) const;

    std::optional<std::int64_t> tokenToId(const std::string &token) const;
    // The token of `id`, or nullptr for ids outside the vocabulary.
    const std::string *idToToken(std::int64_t id) const;
    std::int64_t vocabSize() const { return std::int64_t(m_tokens.size()); }

private:
    BpeModel() = default;
    std::vector<std::int64_t> encodeUncached(const std::string &piece) const;

    struct PairHash {
        std::size_t operator()(const std::pair<std::int64_t, std::int64_t> &pair) const
        {
            return std::hash<std::int64_t>()(pair.first * 1000003 + pair.second);
        }
    };
    struct Merge {
        std::int64_t rank;
        std::int64_t result;
    };

    std::unordered_map<std::string, std::int64_t> m_vocab;
    std::vector<std::string> m_tokens; // by id
    std::unordered_map<std::pair<std::int64_t, std::int64_t>, Merge, PairHash> m_merges;
    std::optional<std::int64_t> m_unknown;
    bool m_fuseUnknown = false;
    bool m_byteFallback = false;
    bool m_ignoreMerges = false;
    std::int64_t m_byteTokens[256] = {};

    mutable std::mutex m_cacheMutex;
    mutable std::unordered_map<std::string, std::vector<std::int64_t>> m_cache;
};

} // namespace corolla
