#include "train/adamw.h"

#include <algorithm>
#include <cmath>

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/zeros_like.h>

namespace corolla {

AdamW::AdamW(std::vector<at::Tensor> parameters, AdamWOptions options)
    : m_parameters(std::move(parameters))
    , m_options(options)
{
    for (const at::Tensor &parameter : m_parameters) {
        m_firstMoments.push_back(at::zeros_like(parameter));
        m_secondMoments.push_back(at::zeros_like(parameter));
    }
}

void AdamW::step(const std::vector<at::Tensor> &gradients, double learningRate)
{
    at::NoGradGuard noGrad;
    ++m_steps;
    const double b1 = m_options.beta1, b2 = m_options.beta2;
    const double correction1 = 1.0 - std::pow(b1, double(m_steps));
    const double correction2 = 1.0 - std::pow(b2, double(m_steps));
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        at::Tensor &p = m_parameters[i], &m = m_firstMoments[i], &v = m_secondMoments[i];
        const at::Tensor &g = gradients[i];
        // Decoupled weight decay: shrink the weights, not the gradient.
        if (m_options.weightDecay != 0)
            p.mul_(1.0 - learningRate * m_options.weightDecay);
        m.mul_(b1).add_(g, 1.0 - b1);        // m = b1 m + (1 - b1) g
        v.mul_(b2).addcmul_(g, g, 1.0 - b2); // v = b2 v + (1 - b2) g^2
        // p -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / c1 and v_hat = v / c2.
        const at::Tensor denominator = (v / correction2).sqrt_().add_(m_options.epsilon);
        p.addcdiv_(m, denominator, -learningRate / correction1);
    }
}

double scheduledLearningRate(double peak, std::int64_t step, std::int64_t warmup,
                             std::int64_t total)
{
    if (step < warmup)
        return peak * double(step + 1) / double(warmup + 1);
    const std::int64_t decaySteps = std::max<std::int64_t>(1, total - warmup);
    return peak * std::max(0.0, double(total - step) / double(decaySteps));
}

double clipGradientNorm(std::vector<at::Tensor> &gradients, double maxNorm)
{
    double squares = 0;
    for (const at::Tensor &gradient : gradients)
        squares += gradient.to(at::kDouble).pow(2).sum().item<double>();
    const double norm = std::sqrt(squares);
    if (maxNorm > 0 && norm > maxNorm) {
        const double scale = maxNorm / (norm + 1e-6);
        for (at::Tensor &gradient : gradients)
            gradient.mul_(scale);
    }
    return norm;
}

} // namespace corolla
