#include "tokenizer/bpemodel.h"

#include <cstdio>
#include <queue>

#include <nlohmann/json.hpp>

#include "tokenizer/utf8.h"

namespace corolla {

namespace {
constexpr std::size_t kCacheLimit = 100000;
// Longer pieces (whole SentencePiece segments) rarely repeat; caching them only costs copies.
constexpr std::size_t kCacheMaxPieceBytes = 64;
} // namespace

BpeModel::BpeModel(BpeModel &&other) noexcept
{
    *this = std::move(other);
}

BpeModel &BpeModel::operator=(BpeModel &&other) noexcept
{
    m_vocab = std::move(other.m_vocab);
    m_tokens = std::move(other.m_tokens);
    m_merges = std::move(other.m_merges);
    m_unknown = other.m_unknown;
    m_fuseUnknown = other.m_fuseUnknown;
    m_byteFallback = other.m_byteFallback;
    m_ignoreMerges = other.m_ignoreMerges;
    std::copy(std::begin(other.m_byteTokens), std::end(other.m_byteTokens), m_byteTokens);
    return *this;
}

Result<BpeModel> BpeModel::fromJson(const nlohmann::json &model)
{
    auto error = [](const std::string &what) {
        return makeError(ErrorCode::Format, "tokenizer.json: model: " + what);
    };
    if (!model.is_object())
        return error("missing");
    const std::string type = model.value("type", "BPE");
    if (type != "BPE")
        return makeError(ErrorCode::Unsupported,
                         "tokenizer.json: model type '" + type + "' is not supported (BPE is)");
    const auto vocab = model.find("vocab");
    if (vocab == model.end() || !vocab->is_object())
        return error("no 'vocab' object");

    BpeModel bpe;
    for (const auto &[token, id] : vocab->items()) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0
            || id.get<std::int64_t>() > 10'000'000)
            return error("token '" + token + "' has an invalid id");
        if (!utf8::isValid(token))
            return error("a vocabulary entry is not valid UTF-8");
        const std::int64_t index = id.get<std::int64_t>();
        bpe.m_vocab[token] = index;
        if (std::int64_t(bpe.m_tokens.size()) <= index)
            bpe.m_tokens.resize(std::size_t(index) + 1);
        bpe.m_tokens[std::size_t(index)] = token;
    }

    const auto merges = model.find("merges");
    if (merges != model.end() && merges->is_array()) {
        std::int64_t rank = 0;
        for (const auto &merge : *merges) {
            std::string left, right;
            if (merge.is_string()) {
                const std::string text = merge.get<std::string>();
                const std::size_t space = text.find(' ', 1);
                if (space == std::string::npos)
                    return error("merge '" + text + "' is not two tokens separated by a space");
                left = text.substr(0, space);
                right = text.substr(space + 1);
            } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string()
                       && merge[1].is_string()) {
                left = merge[0].get<std::string>();
                right = merge[1].get<std::string>();
            } else {
                return error("merge #" + std::to_string(rank) + " is malformed");
            }
            const auto a = bpe.m_vocab.find(left), b = bpe.m_vocab.find(right),
                       c = bpe.m_vocab.find(left + right);
            if (a == bpe.m_vocab.end() || b == bpe.m_vocab.end() || c == bpe.m_vocab.end())
                return error("merge '" + left + " " + right
                             + "' uses tokens outside the vocabulary");
            bpe.m_merges.emplace(std::make_pair(a->second, b->second), Merge{rank++, c->second});
        }
    }
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
        const auto unknown = bpe.m_vocab.find(model["unk_token"].get<std::string>());
        if (unknown != bpe.m_vocab.end())
            bpe.m_unknown = unknown->second;
    }
    bpe.m_fuseUnknown = model.value("fuse_unk", false);
    bpe.m_byteFallback = model.value("byte_fallback", false);
    bpe.m_ignoreMerges = model.value("ignore_merges", false);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        const auto it = bpe.m_vocab.find(name);
        bpe.m_byteTokens[b] = it == bpe.m_vocab.end() ? -1 : it->second;
    }
    return bpe;
}

std::optional<std::int64_t> BpeModel::tokenToId(const std::string &token) const
{
    const auto it = m_vocab.find(token);
    return it == m_vocab.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

const std::string *BpeModel::idToToken(std::int64_t id) const
{
    if (id < 0 || id >= std::int64_t(m_tokens.size()))
        return nullptr;
    return &m_tokens[std::size_t(id)];
}

void BpeModel::encode(const std::string &piece, std::vector<std::int64_t> &ids) const
{
    if (piece.size() > kCacheMaxPieceBytes) {
        const std::vector<std::int64_t> encoded = encodeUncached(piece);
        ids.insert(ids.end(), encoded.begin(), encoded.end());
        return;
    }
    {
        std::lock_guard lock(m_cacheMutex);
        const auto cached = m_cache.find(piece);
        if (cached != m_cache.end()) {
            ids.insert(ids.end(), cached->second.begin(), cached->second.end());
            return;
        }
    }
    std::vector<std::int64_t> encoded = encodeUncached(piece);
    ids.insert(ids.end(), encoded.begin(), encoded.end());
    std::lock_guard lock(m_cacheMutex);
    if (m_cache.size() >= kCacheLimit)
        m_cache.clear();
    m_cache.emplace(piece, std::move(encoded));
}

std::vector<std::int64_t> BpeModel::encodeUncached(const std::string &piece) const
{
    if (m_ignoreMerges) {
        if (const auto whole = tokenToId(piece))
            return {*whole};
    }
    // Initial symbols: one per character; characters outside the vocabulary become their
    // <0xNN> byte tokens (byte fallback) or the unknown token.
    struct Symbol {
        std::int64_t id;
        std::int64_t previous, next; // indices in `symbols`, -1 at the ends
        bool alive;
    };
    std::vector<Symbol> symbols;
    bool lastWasUnknown = false;
    for (const std::string &character : utf8::characters(piece)) {
        if (const auto id = tokenToId(character)) {
            symbols.push_back({*id, 0, 0, true});
            lastWasUnknown = false;
            continue;
        }
        if (m_byteFallback) {
            bool allBytes = true;
            for (unsigned char byte : character)
                allBytes = allBytes && m_byteTokens[byte] >= 0;
            if (allBytes) {
                for (unsigned char byte : character)
                    symbols.push_back({m_byteTokens[byte], 0, 0, true});
                lastWasUnknown = false;
                continue;
            }
        }
        if (!m_unknown)
            continue; // no way to represent it: dropped, as the reference does
        if (m_fuseUnknown && lastWasUnknown)
            continue;
        symbols.push_back({*m_unknown, 0, 0, true});
        lastWasUnknown = true;
    }
    const std::int64_t count = std::int64_t(symbols.size());
    for (std::int64_t i = 0; i < count; ++i) {
        symbols[std::size_t(i)].previous = i - 1;
        symbols[std::size_t(i)].next = i + 1 < count ? i + 1 : -1;
    }

    // Merge the lowest-ranked adjacent pair first (leftmost among equals), until none applies.
    struct Candidate {
        std::int64_t rank, left, leftId, rightId;
        bool operator>(const Candidate &other) const
        {
            return rank != other.rank ? rank > other.rank : left > other.left;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
    auto consider = [&](std::int64_t left) {
        if (left < 0)
            return;
        const std::int64_t right = symbols[std::size_t(left)].next;
        if (right < 0)
            return;
        const auto merge =
            m_merges.find({symbols[std::size_t(left)].id, symbols[std::size_t(right)].id});
        if (merge != m_merges.end())
            queue.push({merge->second.rank, left, symbols[std::size_t(left)].id,
                        symbols[std::size_t(right)].id});
    };
    for (std::int64_t i = 0; i + 1 < count; ++i)
        consider(i);
    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        Symbol &left = symbols[std::size_t(top.left)];
        if (!left.alive || left.id != top.leftId || left.next < 0)
            continue;
        Symbol &right = symbols[std::size_t(left.next)];
        if (right.id != top.rightId)
            continue; // stale: one side has merged since
        left.id = m_merges.at({top.leftId, top.rightId}).result;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0)
            symbols[std::size_t(right.next)].previous = top.left;
        consider(left.previous);
        consider(top.left);
    }
    std::vector<std::int64_t> ids;
    for (std::int64_t i = 0; i >= 0 && i < count; i = symbols[std::size_t(i)].next)
        ids.push_back(symbols[std::size_t(i)].id);
    return ids;
}

} // namespace corolla
