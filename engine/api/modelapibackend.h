#pragma once
// The API's answers from a model: the client part (tokenizer, embeddings, LM head) on this
// machine and the blocks from a runner factory (this machine's blocks or a swarm's). A chat
// request renders the model's chat template; a completion request continues its prompt.
// Every request opens its own sequence of blocks and closes it when it ends.
// Thread: complete() on any number of threads at once (the tokenizer and head are read only;
// each request has its own runner); the factory must allow that too.

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "api/apibackend.h"
#include "client/conversation.h"

namespace corolla {

class ClientHead;
class Tokenizer;

class ModelApiBackend : public ApiBackend {
public:
    // `maxLength`: the positions a request may hold, prompt and answer together.
    ModelApiBackend(const Tokenizer &tokenizer, const ClientHead &head,
                    std::vector<std::int64_t> modelStopIds, Conversation::RunnerFactory newRunner,
                    std::string id, std::int64_t maxLength);

    std::string modelId() const override { return m_id; }
    std::int64_t created() const override { return m_created; }
    Result<CompletionResult> complete(const CompletionRequest &request,
                                      const std::function<bool(const std::string &)> &onText,
                                      const std::stop_token &stop) override;

private:
    Result<std::int64_t> newTokens(const CompletionRequest &request,
                                   std::int64_t promptTokens) const;
    Result<CompletionResult> chat(const CompletionRequest &request, GenerationOptions options,
                                  const std::function<bool(const std::string &)> &onText);
    Result<CompletionResult> text(const CompletionRequest &request, GenerationOptions options,
                                  const std::function<bool(const std::string &)> &onText);
    std::uint64_t drawSeed();

    const Tokenizer &m_tokenizer;
    const ClientHead &m_head;
    std::vector<std::int64_t> m_modelStopIds;
    Conversation::RunnerFactory m_newRunner;
    std::string m_id;
    std::int64_t m_maxLength;
    std::int64_t m_created;
    std::mutex m_seedMutex;
    std::mt19937_64 m_seeds{std::random_device{}()};
};

// The id clients name a model by: the repository of a Hub reference ("ORG/NAME[@REV]") or of
// a Hub snapshot folder, else the folder's name.
std::string apiModelId(const std::string &argument, const std::string &folder);

} // namespace corolla
