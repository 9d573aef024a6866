#pragma once
// Which files of a model repository a task needs: what Corolla can load (config, tokenizer,
// safetensors) and, with a block range or for a client, only the shards that hold those
// tensors; or exactly the files some globs name.
// Thread: any; pure functions over names and the checkpoint index.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <QString>
#include <QStringList>

#include "core/result.h"

namespace corolla {

struct FileSelection {
    // Non-empty: exactly the files matching one of these (fnmatch: '*' also matches '/').
    QStringList includes;
    // Without includes: the metadata (config, tokenizer, index) and then the weights below.
    bool weights = true;
    std::optional<std::pair<std::int64_t, std::int64_t>> blocks; // only their shards
    bool clientPart = false; // embeddings, final norm, LM head (with blocks: also those)

    bool allWeights() const { return weights && !blocks && !clientPart; }
    std::string describe() const;
};

// fnmatch-style matching as huggingface_hub's allow_patterns: '*', '?', '[...]'.
bool matchesGlob(const QString &name, const QString &glob);

// Repository files a model folder is made of besides its weights: config, tokenizer and chat
// template files and the safetensors index (top-level .json, .txt, .jinja, tokenizer.model).
bool isMetadataFile(const QString &name);
// Top-level .safetensors files.
bool isWeightFile(const QString &name);
// A relative path that stays inside the folder it is joined to: no "..", ".", empty or
// absolute parts, no backslashes, colons or NULs (a hostile server's file names are refused).
bool isSafeRepoPath(const QString &path);

// The block a checkpoint tensor belongs to ("model.layers.7.mlp…", "transformer.h.7.…" → 7);
// nullopt for the embeddings, final norm and LM head.
std::optional<std::int64_t> blockOfTensor(const std::string &name);

// The weight files `selection` needs, given the files of the repository and the text of
// model.safetensors.index.json (empty when the repository has none). Errors name a malformed
// index or a shard it lists that the repository lacks.
Result<std::set<QString>> weightFilesFor(const FileSelection &selection,
                                         const QStringList &repositoryFiles,
                                         const std::string &indexText);

} // namespace corolla
