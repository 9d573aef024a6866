#pragma once
// --model as the commands take it: a checkpoint folder, or a Hub model ORG/NAME[@REVISION]
// whose needed files are downloaded into the Hugging Face cache first, with progress on
// stderr (a bar on a terminal, plain lines otherwise).
// Thread: any; a download blocks the calling thread.

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "core/result.h"
#include "hub/fileselection.h"
#include "hub/hubdownloader.h"

namespace corolla {

// What the command needs of the model.
FileSelection allWeights();
FileSelection metadataOnly();
FileSelection clientPart();
FileSelection blockWeights(std::int64_t begin, std::int64_t end);

// The folder `argument` names, or the snapshot folder after fetching what `selection` needs
// of the Hub model it names. An error says which it is neither of.
Result<std::string> modelFolder(const std::string &argument, const FileSelection &selection,
                                const std::stop_token &stop = {});

// A LoRA adapter as --adapters and --adapter take it: a folder (named by its last path
// part) or a Hub adapter ORG/NAME[@REVISION] (named so), whose adapter_config.json and
// adapter_model.safetensors are fetched first.
struct AdapterLocation {
    std::string name;
    std::string folder;
};
Result<AdapterLocation> adapterFolder(const std::string &argument,
                                      const std::stop_token &stop = {});
// The name the swarm knows an adapter argument by, without fetching anything.
std::string adapterName(const std::string &argument);

// Download options with progress and notes printed on stderr.
HubDownloadOptions terminalDownloadOptions(const std::stop_token &stop = {});

} // namespace corolla
