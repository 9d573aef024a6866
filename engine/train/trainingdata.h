#pragma once
// Training examples from a JSON Lines file, tokenized with the model's tokenizer and marked
// with the tokens the loss is computed on. Each line is one of
//   {"text": "..."}                         the loss on every token,
//   {"prompt": "...", "completion": "..."}  the loss on the completion and the end token,
//   {"messages": [{"role", "content"}...]}  rendered with the chat template, the loss on the
//                                           assistant turns.
// Thread: any (the tokenizer's encode() is const).

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace corolla {

class Tokenizer;

struct TrainingExample {
    std::vector<std::int64_t> ids;
    std::vector<std::uint8_t> target; // target[t]: the loss predicts ids[t] (t >= 1)
    std::int64_t targets() const;     // how many tokens the loss sees
};

struct TrainingDataOptions {
    std::int64_t maxTokens = 2048; // a longer example is an error, not silently cut
};

// Every example of the file at `path`. Blank lines are skipped; anything else that is not a
// valid example is an error naming the file, the line and what is wrong with it.
Result<std::vector<TrainingExample>> readTrainingData(const std::string &path,
                                                      const Tokenizer &tokenizer,
                                                      const TrainingDataOptions &options = {});

// One line's example; errors say what is wrong without the line's position.
Result<TrainingExample> parseTrainingExample(const std::string &line, const Tokenizer &tokenizer,
                                             const TrainingDataOptions &options = {});

} // namespace corolla
