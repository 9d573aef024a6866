#pragma once
// What Corolla knows of a snapshot's weight files, fetched or not: name, size and ETag (the
// SHA-256 of an LFS file). A server holds only some shards, yet every peer must derive the
// same swarm identity from all of them; the manifest makes that possible offline too.
// Stored beside, never inside, the Hugging Face cache: <folder>/models--ORG--NAME/<commit>.json.
// Thread: any; file reads and atomic writes.

#include <cstdint>
#include <map>
#include <vector>

#include <QString>

#include "core/result.h"
#include "hub/hubcache.h"

namespace corolla {

struct WeightFileDigest {
    QString name;
    std::int64_t size = 0;
    QString etag;
};

using HubManifest = std::map<QString, WeightFileDigest>; // by file name

Result<HubManifest> readHubManifest(const QString &folder, const HubCache &cache,
                                    const QString &commit);
Result<void> writeHubManifest(const QString &folder, const HubCache &cache, const QString &commit,
                              const HubManifest &manifest);

// The digests of every weight file of the snapshot folder `directory` (those its index names,
// or model.safetensors): from the blob a file links to, else the manifest in
// `manifestFolder`, else by hashing a copied file. An error names a file that is neither in
// the snapshot nor in the manifest.
Result<std::vector<WeightFileDigest>> snapshotWeightDigests(const QString &directory,
                                                            const QString &manifestFolder);

} // namespace corolla
