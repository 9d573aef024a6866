#pragma once
// AdamW (Loshchilov & Hutter: Adam with decoupled weight decay) over a few tensors, with the
// learning-rate schedule of fine-tuning: linear warm-up, then linear decay to zero.
// Thread: one thread at a time.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace corolla {

struct AdamWOptions {
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    double weightDecay = 0.0;
};

class AdamW {
public:
    // Updates `parameters` in place (fp32 tensors; shared storage with the caller's).
    AdamW(std::vector<at::Tensor> parameters, AdamWOptions options);
    // One update with the gradients `gradients` (one per parameter, same shapes).
    void step(const std::vector<at::Tensor> &gradients, double learningRate);
    std::int64_t steps() const { return m_steps; }

private:
    std::vector<at::Tensor> m_parameters, m_firstMoments, m_secondMoments;
    AdamWOptions m_options;
    std::int64_t m_steps = 0;
};

// The learning rate of step `step` (0-based) of `total`: rising linearly over `warmup`
// steps to `peak`, then falling linearly to zero after the last step.
double scheduledLearningRate(double peak, std::int64_t step, std::int64_t warmup,
                             std::int64_t total);

// Scales `gradients` in place so that their joint L2 norm is at most `maxNorm` (0: never);
// returns the norm before scaling.
double clipGradientNorm(std::vector<at::Tensor> &gradients, double maxNorm);

} // namespace corolla
