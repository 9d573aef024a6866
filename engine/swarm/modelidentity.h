#pragma once
// The swarm identity of a checkpoint: which model (config) with which weights. Two folders
// get the same id exactly when they hold the same config and the same weights, wherever
// they lie and whatever they are called; a base model and its fine-tune, or two models
// trained from different seeds, get different ids and so never share a swarm.
// Thread: any; pure functions over files.

#include <string>

#include <QString>

#include "core/result.h"

namespace corolla {

// "<model_type>@<16 hex digits>": SHA-256 over config.json and, for every safetensors file
// of the checkpoint (the index's shards, or model.safetensors), its name, size and header,
// and a sample of every tensor's bytes (its first, middle and last 4 KiB). Reads a few KiB
// per tensor, never whole files. An error names a missing or malformed file.
// A snapshot folder of the Hugging Face cache is identified by the Hub's content hashes of
// its weight files instead (fetched or not, from the blobs or Corolla's manifest in
// `manifestFolder`), so that servers holding different shards agree.
Result<std::string> modelIdForDirectory(const std::string &directory);
Result<std::string> modelIdForDirectory(const std::string &directory,
                                        const QString &manifestFolder);

} // namespace corolla
