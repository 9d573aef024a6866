#include "train/prompttrainer.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <thread>

#include <ATen/TensorOperators.h>
#include <ATen/core/Reduction.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include "model/clienthead.h"
#include "model/placement.h"

namespace corolla {

namespace {

void addInto(at::Tensor &sum, const at::Tensor &term)
{
    if (!term.defined())
        return;
    if (sum.defined())
        sum.add_(term);
    else
        sum = term.clone();
}

} // namespace

Result<std::unique_ptr<PromptTrainer>>
PromptTrainer::create(const ClientHead &head, TrainablePrompts &prompts,
                      std::vector<TrainingBlocks *> blocks,
                      const std::vector<TrainingExample> &examples, TrainingOptions options)
{
    if (blocks.empty())
        return makeError(ErrorCode::InvalidArgument, "the trainer needs blocks to run");
    if (examples.empty())
        return makeError(ErrorCode::InvalidArgument, "there are no training examples");
    if (!prompts.prefix.defined())
        return makeError(ErrorCode::InvalidArgument, "there are no prompts to train");
    if (options.steps < 1 || options.batchSize < 1 || options.microBatchSize < 0)
        return makeError(ErrorCode::InvalidArgument, "steps and the batch size must be positive");
    if (!(options.learningRate > 0) || !std::isfinite(options.learningRate))
        return makeError(ErrorCode::InvalidArgument, "the learning rate must be positive");
    if (options.maxGradNorm < 0 || options.weightDecay < 0)
        return makeError(ErrorCode::InvalidArgument,
                         "the gradient clipping norm and the weight decay cannot be negative");
    if (options.microBatchSize == 0 || options.microBatchSize > options.batchSize)
        options.microBatchSize = options.batchSize;
    if (options.warmupSteps < 0)
        options.warmupSteps = options.steps / 10;
    return std::unique_ptr<PromptTrainer>(
        new PromptTrainer(head, prompts, std::move(blocks), examples, options));
}

PromptTrainer::PromptTrainer(const ClientHead &head, TrainablePrompts &prompts,
                             std::vector<TrainingBlocks *> blocks,
                             const std::vector<TrainingExample> &examples, TrainingOptions options)
    : m_head(head)
    , m_prompts(prompts)
    , m_blocks(std::move(blocks))
    , m_examples(examples)
    , m_options(options)
    , m_optimizer(prompts.deep.defined() ? std::vector<at::Tensor>{prompts.prefix, prompts.deep}
                                         : std::vector<at::Tensor>{prompts.prefix},
                  AdamWOptions{.weightDecay = options.weightDecay})
    , m_order(examples.size())
{
    m_next = m_order.size(); // shuffle before the first batch
}

std::vector<const TrainingExample *> PromptTrainer::nextBatch()
{
    std::vector<const TrainingExample *> batch;
    while (std::int64_t(batch.size()) < m_options.batchSize) {
        if (m_next == m_order.size()) {
            std::iota(m_order.begin(), m_order.end(), 0);
            std::mt19937_64 random(m_options.seed * 1000003 + m_epoch++);
            std::shuffle(m_order.begin(), m_order.end(), random);
            m_next = 0;
        }
        batch.push_back(&m_examples[m_order[m_next++]]);
    }
    return batch;
}

Result<TrainingStep> PromptTrainer::step()
{
    const auto started = std::chrono::steady_clock::now();
    const std::vector<const TrainingExample *> batch = nextBatch();
    // Gradient accumulation: micro-batches add up; the loss is the mean over the whole
    // batch's target tokens, so the split does not change the update.
    PromptGradients total;
    for (std::size_t from = 0; from < batch.size(); from += std::size_t(m_options.microBatchSize)) {
        const std::size_t to = std::min(batch.size(), from + std::size_t(m_options.microBatchSize));
        auto micro =
            gradients({batch.begin() + std::ptrdiff_t(from), batch.begin() + std::ptrdiff_t(to)});
        if (!micro)
            return micro.error();
        total.lossSum += micro->lossSum;
        total.targets += micro->targets;
        total.tokens += micro->tokens;
        addInto(total.prefix, micro->prefix);
        addInto(total.deep, micro->deep);
    }
    std::vector<at::Tensor> grads{total.prefix / double(total.targets)};
    if (m_prompts.deep.defined())
        grads.push_back(total.deep / double(total.targets));
    TrainingStep report;
    report.step = ++m_steps;
    report.loss = total.lossSum / double(total.targets);
    report.gradNorm = clipGradientNorm(grads, m_options.maxGradNorm);
    if (!std::isfinite(report.gradNorm))
        return makeError(ErrorCode::Internal, "the gradients are not finite at step "
                                                  + std::to_string(report.step)
                                                  + "; try a smaller learning rate");
    report.learningRate = scheduledLearningRate(m_options.learningRate, report.step - 1,
                                                m_options.warmupSteps, m_options.steps);
    m_optimizer.step(grads, report.learningRate);
    report.tokens = total.tokens;
    report.targets = total.targets;
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return report;
}

Result<PromptGradients> PromptTrainer::gradients(const std::vector<const TrainingExample *> &batch)
{
    // Chunks of nearly equal size, one per TrainingBlocks, all at once.
    const std::size_t chunks = std::min(m_blocks.size(), batch.size());
    std::vector<std::vector<const TrainingExample *>> parts(chunks);
    for (std::size_t i = 0; i < batch.size(); ++i)
        parts[i * chunks / batch.size()].push_back(batch[i]);
    std::vector<Result<PromptGradients>> results(chunks, makeError(ErrorCode::Internal, "not run"));
    auto run = [&](std::size_t i) {
        try {
            results[i] = chunkGradients(*m_blocks[i], parts[i]);
        } catch (const c10::Error &error) {
            results[i] = makeError(ErrorCode::Internal, std::string("training failed: ")
                                                            + error.what_without_backtrace());
        } catch (const std::exception &error) {
            results[i] =
                makeError(ErrorCode::Internal, std::string("training failed: ") + error.what());
        }
    };
    std::vector<std::jthread> threads;
    for (std::size_t i = 1; i < chunks; ++i)
        threads.emplace_back(run, i);
    run(0);
    threads.clear(); // joins
    PromptGradients sum;
    for (Result<PromptGradients> &result : results) {
        if (!result)
            return result.error();
        sum.lossSum += result->lossSum;
        sum.targets += result->targets;
        sum.tokens += result->tokens;
        addInto(sum.prefix, result->prefix);
        addInto(sum.deep, result->deep);
    }
    return sum;
}

Result<PromptGradients>
PromptTrainer::chunkGradients(TrainingBlocks &blocks,
                              const std::vector<const TrainingExample *> &chunk) const
{
    const std::int64_t batch = std::int64_t(chunk.size());
    const std::int64_t prefix = m_prompts.prefixLength(), hiddenSize = m_prompts.prefix.size(1);
    std::int64_t longest = 0;
    for (const TrainingExample *example : chunk)
        longest = std::max(longest, std::int64_t(example->ids.size()));
    const std::int64_t width = prefix + longest; // positions of the padded chunk

    // The token ids, padded with id 0 (any valid id: padding is masked everywhere), and the
    // flat positions of the hidden states that predict each target token with its label.
    at::Tensor ids = at::zeros({batch, longest}, at::kLong);
    std::vector<std::int64_t> lengths, rows, labels;
    PromptGradients result;
    for (std::int64_t b = 0; b < batch; ++b) {
        const TrainingExample &example = *chunk[std::size_t(b)];
        const auto size = std::int64_t(example.ids.size());
        std::copy(example.ids.begin(), example.ids.end(), ids[b].data_ptr<std::int64_t>());
        lengths.push_back(prefix + size);
        result.tokens += prefix + size;
        for (std::int64_t t = 1; t < size; ++t) {
            if (!example.target[std::size_t(t)])
                continue;
            rows.push_back(b * width + prefix + t - 1); // position P + t - 1 predicts token t
            labels.push_back(example.ids[std::size_t(t)]);
        }
    }
    result.targets = std::int64_t(labels.size());

    // hidden [batch, P + T, hidden]: the prefix prompts, then the token embeddings.
    auto embedded = m_head.embed(ids);
    if (!embedded)
        return embedded.error();
    const at::Tensor hidden =
        at::cat({m_prompts.prefix.unsqueeze(0).expand({batch, prefix, hiddenSize}),
                 toHost(embedded->to(at::kFloat))},
                1)
            .contiguous();
    const DeepPrompts &deep = m_prompts.deep;
    auto output = blocks.forward(hidden, lengths, deep);
    if (!output)
        return output.error();

    // The loss through the head, recorded from the blocks' output on: its gradient is what
    // the blocks' backward pass starts from.
    at::Tensor leaf = output->to(at::kFloat).clone().requires_grad_(true);
    {
        at::AutoGradMode recording(true);
        const at::Tensor selected =
            leaf.view({-1, hiddenSize}).index_select(0, at::tensor(rows, at::kLong)); // [N, hidden]
        const at::Tensor logits = m_head.logits(selected);                            // [N, vocab]
        const at::Tensor loss =
            at::cross_entropy_loss(logits, toDevice(at::tensor(labels, at::kLong), logits.device()),
                                   {}, at::Reduction::Sum);
        result.lossSum = loss.item<double>();
        loss.backward();
    }
    auto gradients = blocks.backward(hidden, leaf.grad(), lengths, deep);
    if (!gradients)
        return gradients.error();
    result.prefix = gradients->input.narrow(1, 0, prefix).sum(0); // the prefix is shared
    result.deep = gradients->prompts;
    return result;
}

} // namespace corolla
