// `corolla --version`: what this program is, what it was built from and with, and where it
// can compute.

#include <cstdio>
#include <string>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <QtGlobal>

#include "app/commands.h"
#include "app/buildinfo.h"
#include "core/bytesize.h"
#include "core/gpuinfo.h"
#include "model/cpukernels.h"

namespace corolla {

namespace {

// Whether the libtorch this program was built against has CUDA: its CUDA builds ship this
// header, CPU builds (Debian's) do not.
#if __has_include(<ATen/cuda/CUDAConfig.h>)
constexpr bool kLibtorchHasCuda = true;
#else
constexpr bool kLibtorchHasCuda = false;
#endif

std::string cudaDevices()
{
    if (!kLibtorchHasCuda)
        return "not in this build (libtorch " TORCH_VERSION " without CUDA)";
    const auto count = torch::cuda::device_count();
    if (count == 0)
        return "built in, no GPU found";
    std::string names;
    for (std::size_t index = 0; index < count; ++index) {
        names += (index ? ", cuda:" : "cuda:") + std::to_string(index);
        if (const auto gpu = nvmlGpu(int(index)))
            names += " (" + gpu->name + ", " + formatBytes(gpu->freeBytes) + " free of "
                     + formatBytes(gpu->totalBytes) + ")";
    }
    return names;
}

} // namespace

int printVersion()
{
    std::printf("corolla %s\n", COROLLA_VERSION);
    if (std::string(COROLLA_SOURCE_DATE).empty())
        std::printf("source: %s\n", COROLLA_SOURCE_COMMIT);
    else
        std::printf("source: %s (%s)\n", COROLLA_SOURCE_COMMIT, COROLLA_SOURCE_DATE);
    std::printf("libtorch: %s\n", TORCH_VERSION);
    std::printf("Qt: %s (built with %s)\n", qVersion(), QT_VERSION_STR);
    std::printf("devices: cpu (%d threads, %s kernels)\n", at::get_num_threads(),
                cpuKernelsName().c_str());
    std::printf("         cuda: %s\n", cudaDevices().c_str());
    return 0;
}

} // namespace corolla
