#include "model/placement.h"

#include <ATen/Context.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/Stream.h>
#include <c10/core/impl/VirtualGuardImpl.h>

namespace corolla {

std::string Placement::name() const
{
    if (device.is_cpu())
        return backend == ComputeBackend::Generic ? "cpu (generic)" : "cpu";
    return device.str();
}

bool buildHasCuda()
{
    return at::detail::getCUDAHooks().hasCUDA() || at::detail::getCUDAHooks().hasCUDART();
}

int cudaDeviceCount()
{
    if (!at::hasCUDA())
        return 0;
    return at::detail::getCUDAHooks().getNumGPUs();
}

Result<Placement> resolvePlacement(const ComputeDevice &device, ComputeBackend backend)
{
    const int gpus = cudaDeviceCount();
    switch (device.kind) {
    case ComputeDevice::Kind::Cpu: return Placement{c10::Device(c10::kCPU), backend};
    case ComputeDevice::Kind::Auto:
        if (gpus > 0)
            return Placement{c10::Device(c10::kCUDA, 0), backend};
        return Placement{c10::Device(c10::kCPU), backend};
    case ComputeDevice::Kind::Cuda: break;
    }
    if (!buildHasCuda())
        return makeError(ErrorCode::Unsupported,
                         device.name()
                             + ": this build of Corolla uses a libtorch without CUDA; build it "
                               "against a CUDA libtorch to compute on the GPU (docs/gpu.md)");
    if (gpus == 0)
        return makeError(ErrorCode::NotFound,
                         device.name()
                             + ": no NVIDIA GPU is usable here (no GPU, or its driver is missing)");
    if (device.index >= gpus)
        return makeError(ErrorCode::InvalidArgument,
                         device.name() + ": this machine has " + std::to_string(gpus)
                             + (gpus == 1 ? " GPU, cuda:0"
                                          : " GPUs, cuda:0 to cuda:" + std::to_string(gpus - 1)));
    return Placement{c10::Device(c10::kCUDA, c10::DeviceIndex(device.index)), backend};
}

at::Tensor toDevice(const at::Tensor &tensor, const c10::Device &device)
{
    if (tensor.device() == device)
        return tensor;
    if (!tensor.is_cpu() || device.is_cpu())
        return tensor.to(device);
    at::Tensor staging =
        at::empty(tensor.sizes(), tensor.options().pinned_memory(true)).copy_(tensor);
    // The pinned allocator keeps the staging buffer until the queued copy has read it.
    return staging.to(device, /*non_blocking=*/true);
}

at::Tensor toHost(const at::Tensor &tensor)
{
    if (tensor.is_cpu())
        return tensor;
    at::Tensor host =
        at::empty(tensor.sizes(), tensor.options().device(c10::kCPU).pinned_memory(true));
    host.copy_(tensor, /*non_blocking=*/true);
    const c10::impl::VirtualGuardImpl guard(tensor.device().type());
    guard.getStream(tensor.device()).synchronize();
    return host;
}

void useOwnStream(const c10::Device &device)
{
    if (device.is_cpu())
        return;
    const c10::impl::VirtualGuardImpl guard(device.type());
    guard.exchangeStream(guard.getStreamFromGlobalPool(device));
}

} // namespace corolla
