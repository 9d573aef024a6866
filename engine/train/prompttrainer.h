#pragma once
// Prompt tuning on libtorch autograd: the model's embeddings, blocks and LM head stay frozen,
// only the prompts learn. A step runs its batch through the blocks (in chunks, in parallel,
// one TrainingBlocks each), takes the cross-entropy of the target tokens through the head,
// sends the gradient back through the blocks for the prompts' gradients, clips them and
// updates the prompts with AdamW on a warm-up-then-decay schedule.
// Thread: the calling thread, which waits for the chunks' threads.

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "train/adamw.h"
#include "train/trainableprompts.h"
#include "train/trainingblocks.h"
#include "train/trainingdata.h"

namespace corolla {

class ClientHead;

struct TrainingOptions {
    std::int64_t steps = 100;
    std::int64_t batchSize = 8;      // examples per optimizer step
    std::int64_t microBatchSize = 0; // examples per pass through the blocks; 0: the whole batch
    double learningRate = 1e-2;
    std::int64_t warmupSteps = -1; // -1: a tenth of the steps
    double weightDecay = 0.0;
    double maxGradNorm = 1.0; // 0: no clipping
    std::uint64_t seed = 0;   // the order of the examples
};

struct TrainingStep {
    std::int64_t step = 0;   // 1-based
    double loss = 0;         // mean cross-entropy per target token, before the update
    double learningRate = 0; // used for this update
    double gradNorm = 0;     // before clipping
    std::int64_t tokens = 0; // positions through the blocks (prefix and real tokens)
    std::int64_t targets = 0;
    double seconds = 0;
};

// The loss and the prompts' gradients of a batch, summed over its target tokens.
struct PromptGradients {
    double lossSum = 0;
    std::int64_t targets = 0;
    std::int64_t tokens = 0;
    at::Tensor prefix; // [P, hidden]
    at::Tensor deep;   // [numBlocks, 1, P, hidden], deep_ptune only
};

class PromptTrainer {
public:
    // `blocks` (at least one): a batch is cut into as many chunks, run at once. The prompts,
    // head, blocks and examples must outlive the trainer; the prompts are updated in place.
    static Result<std::unique_ptr<PromptTrainer>>
    create(const ClientHead &head, TrainablePrompts &prompts, std::vector<TrainingBlocks *> blocks,
           const std::vector<TrainingExample> &examples, TrainingOptions options);

    // One optimizer step on the next batch of examples (shuffled anew every epoch).
    Result<TrainingStep> step();

    // The gradients of `batch` with the current prompts; nothing is updated.
    Result<PromptGradients> gradients(const std::vector<const TrainingExample *> &batch);

private:
    PromptTrainer(const ClientHead &head, TrainablePrompts &prompts,
                  std::vector<TrainingBlocks *> blocks,
                  const std::vector<TrainingExample> &examples, TrainingOptions options);
    std::vector<const TrainingExample *> nextBatch();
    // One chunk through `blocks`: its loss sum and gradients.
    Result<PromptGradients> chunkGradients(TrainingBlocks &blocks,
                                           const std::vector<const TrainingExample *> &chunk) const;

    const ClientHead &m_head;
    TrainablePrompts &m_prompts;
    std::vector<TrainingBlocks *> m_blocks;
    const std::vector<TrainingExample> &m_examples;
    TrainingOptions m_options;
    AdamW m_optimizer;
    std::vector<std::size_t> m_order;
    std::size_t m_next = 0;
    std::uint64_t m_epoch = 0;
    std::int64_t m_steps = 0;
};

} // namespace corolla
