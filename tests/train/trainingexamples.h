#pragma once
// Training examples the prompt-tuning tests share: token sequences of different lengths with
// scattered targets, so that padding and masks matter.

#include <cstdint>
#include <vector>

#include "train/trainingdata.h"

namespace corolla::testing {

inline std::vector<TrainingExample> scatteredExamples(std::int64_t vocab)
{
    std::vector<TrainingExample> examples;
    const std::vector<std::int64_t> lengths{7, 4, 9, 5};
    for (std::size_t e = 0; e < lengths.size(); ++e) {
        TrainingExample example;
        for (std::int64_t t = 0; t < lengths[e]; ++t) {
            example.ids.push_back((std::int64_t(e) * 37 + t * 11 + 3) % vocab);
            example.target.push_back(t > 0 && (t + std::int64_t(e)) % 3 != 0);
        }
        examples.push_back(example);
    }
    return examples;
}

// The batch of every example, as PromptTrainer::gradients() takes it.
inline std::vector<const TrainingExample *> pointers(const std::vector<TrainingExample> &examples)
{
    std::vector<const TrainingExample *> result;
    for (const TrainingExample &example : examples)
        result.push_back(&example);
    return result;
}

} // namespace corolla::testing
