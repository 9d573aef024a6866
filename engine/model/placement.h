#pragma once
// Where a model's tensors live (the CPU or one GPU) and which backend computes on them, and
// the copies between host memory and a device.
// Thread: any; useOwnStream() changes the calling thread's current stream only.

#include <string>

#include <c10/core/Device.h>

#include "core/compute.h"
#include "core/result.h"

namespace at {
class Tensor;
}

namespace corolla {

struct Placement {
    c10::Device device = c10::Device(c10::kCPU);
    ComputeBackend backend = ComputeBackend::Native;

    // The backend that computes: generic always off the CPU, where the hand-written kernels
    // cannot run.
    ComputeBackend effectiveBackend() const
    {
        return device.is_cpu() ? backend : ComputeBackend::Generic;
    }
    bool generic() const { return effectiveBackend() == ComputeBackend::Generic; }
    // "cpu", "cpu (generic)" or "cuda:0": what logs and benchmark reports name.
    std::string name() const;
};

// The GPUs libtorch can compute on: 0 when it was built without CUDA or finds no driver.
int cudaDeviceCount();
// Whether this build's libtorch was compiled with CUDA.
bool buildHasCuda();

// `device` on this machine: auto takes cuda:0 when there is a GPU and the CPU otherwise; a
// GPU must exist. Errors say which of the three is missing: CUDA in this build, a GPU (or its
// driver), or the GPU of that index.
Result<Placement> resolvePlacement(const ComputeDevice &device,
                                   ComputeBackend backend = ComputeBackend::Native);

// `tensor` on `device`; from host memory to a GPU through a pinned staging buffer, queued on
// the current stream without waiting. The same tensor when it is there already.
at::Tensor toDevice(const at::Tensor &tensor, const c10::Device &device);
// `tensor` in host memory: from a GPU through a pinned buffer, waiting for the current
// stream (the one synchronisation a result needs). The same tensor when it is there already.
at::Tensor toHost(const at::Tensor &tensor);
// Gives the calling thread a stream of its own on `device`, so that compute threads do not
// serialise on the default stream; nothing on the CPU. Compute threads call it when they start.
void useOwnStream(const c10::Device &device);

} // namespace corolla
