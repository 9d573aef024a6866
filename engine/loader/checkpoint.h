#pragma once
// A Hugging Face checkpoint folder: config, one safetensors file or shards with an index.
// Thread: any; shards are opened lazily under a lock, reads run concurrently.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "loader/safetensorsfile.h"
#include "loader/tensorsource.h"

namespace corolla {

class Checkpoint : public TensorSource {
public:
    // Opens `directory`: `model.safetensors.index.json` with its shards, or a single
    // `model.safetensors`. Shard headers are read only when a tensor in them is asked for.
    static Result<std::unique_ptr<Checkpoint>> open(const std::string &directory);

    const std::string &directory() const { return m_directory; }

    std::vector<std::string> tensorNames() const override;
    bool contains(const std::string &name) const override;
    Result<at::Tensor> read(const std::string &name) const override;

    // The tensors whose bytes were copied so far, across all shards.
    std::set<std::string> touchedTensors() const;
    // The shard files whose headers were opened so far.
    std::set<std::string> openedFiles() const;

private:
    Result<SafetensorsFile *> shard(const std::string &fileName) const;

    std::string m_directory;
    std::map<std::string, std::string> m_fileOfTensor; // tensor name -> shard file name
    mutable std::mutex m_shardMutex;
    mutable std::map<std::string, std::unique_ptr<SafetensorsFile>> m_shards;
};

} // namespace corolla
