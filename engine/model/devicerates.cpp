#include "model/devicerates.h"

#include <algorithm>
#include <chrono>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/Stream.h>
#include <c10/core/impl/VirtualGuardImpl.h>

namespace corolla {

namespace {

constexpr int kRepeats = 5;

// The best of kRepeats timings of `work` (after one warm-up), each ended by a wait for the
// device.
template <typename Work> double bestSeconds(const c10::Device &device, const Work &work)
{
    work();
    synchronize(device);
    double best = 1e30;
    for (int repeat = 0; repeat < kRepeats; ++repeat) {
        const auto start = std::chrono::steady_clock::now();
        work();
        synchronize(device);
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

} // namespace

void synchronize(const c10::Device &device)
{
    if (device.is_cpu())
        return;
    const c10::impl::VirtualGuardImpl guard(device.type());
    guard.getStream(device).synchronize();
}

double deviceCopyBandwidth(const c10::Device &device, std::int64_t bytes)
{
    c10::InferenceMode inference;
    const auto options = at::TensorOptions().dtype(at::kByte).device(device);
    const at::Tensor source = at::empty({bytes}, options).fill_(1);
    at::Tensor target = at::empty({bytes}, options);
    const double seconds = bestSeconds(device, [&] { target.copy_(source); });
    return 2.0 * double(bytes) / seconds;
}

double deviceMatmulFlops(const c10::Device &device, c10::ScalarType dtype, std::int64_t m,
                         std::int64_t n, std::int64_t k)
{
    c10::InferenceMode inference;
    const auto options = at::TensorOptions().dtype(dtype).device(device);
    const at::Tensor a = at::randn({m, k}, options);
    const at::Tensor b = at::randn({k, n}, options);
    const double seconds = bestSeconds(device, [&] { at::matmul(a, b); });
    return 2.0 * double(m) * double(n) * double(k) / seconds;
}

} // namespace corolla
