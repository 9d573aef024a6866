#pragma once
// NVIDIA GPUs as the driver's management library (NVML) reports them: name, total and free
// memory. NVML is loaded at run time when the driver ships it, so that building needs no CUDA
// headers and a machine without a driver simply reports no GPUs.
// Thread: any.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corolla {

struct GpuInfo {
    int index = 0; // NVML's index, in PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID matches it)
    std::string name;
    std::int64_t totalBytes = 0;
    std::int64_t freeBytes = 0;
};

// Every GPU NVML reports; empty when NVML cannot be loaded or initialised.
std::vector<GpuInfo> nvmlGpus();
// The GPU of that index, when NVML reports it.
std::optional<GpuInfo> nvmlGpu(int index);

} // namespace corolla
