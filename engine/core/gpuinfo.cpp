#include "core/gpuinfo.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace corolla {

namespace {

// The few NVML entry points used, declared here as the library's C interface has them
// (nvml.h is not needed): results are 0 on success; handles are opaque pointers.
struct NvmlMemory {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
};
using NvmlDevice = void *;
using InitFn = int (*)();
using CountFn = int (*)(unsigned int *);
using HandleFn = int (*)(unsigned int, NvmlDevice *);
using NameFn = int (*)(NvmlDevice, char *, unsigned int);
using MemoryFn = int (*)(NvmlDevice, NvmlMemory *);

struct Nvml {
    CountFn count = nullptr;
    HandleFn handle = nullptr;
    NameFn name = nullptr;
    MemoryFn memory = nullptr;
    bool ready = false;
};

void *openLibrary()
{
#if defined(_WIN32)
    return reinterpret_cast<void *>(LoadLibraryA("nvml.dll"));
#else
    void *library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    return library ? library : dlopen("libnvidia-ml.so", RTLD_NOW | RTLD_LOCAL);
#endif
}

void *symbol(void *library, const char *name)
{
#if defined(_WIN32)
    return reinterpret_cast<void *>(GetProcAddress(static_cast<HMODULE>(library), name));
#else
    return dlsym(library, name);
#endif
}

// Loaded and initialised once per process; the library stays loaded.
const Nvml &nvml()
{
    static const Nvml loaded = [] {
        Nvml result;
        void *library = openLibrary();
        if (!library)
            return result;
        const auto init = reinterpret_cast<InitFn>(symbol(library, "nvmlInit_v2"));
        result.count = reinterpret_cast<CountFn>(symbol(library, "nvmlDeviceGetCount_v2"));
        result.handle =
            reinterpret_cast<HandleFn>(symbol(library, "nvmlDeviceGetHandleByIndex_v2"));
        result.name = reinterpret_cast<NameFn>(symbol(library, "nvmlDeviceGetName"));
        result.memory = reinterpret_cast<MemoryFn>(symbol(library, "nvmlDeviceGetMemoryInfo"));
        result.ready =
            init && result.count && result.handle && result.name && result.memory && init() == 0;
        return result;
    }();
    return loaded;
}

std::optional<GpuInfo> query(const Nvml &api, unsigned int index)
{
    NvmlDevice device = nullptr;
    if (api.handle(index, &device) != 0)
        return std::nullopt;
    char name[96] = {};
    NvmlMemory memory{};
    if (api.name(device, name, sizeof(name)) != 0 || api.memory(device, &memory) != 0)
        return std::nullopt;
    return GpuInfo{int(index), name, std::int64_t(memory.total), std::int64_t(memory.free)};
}

} // namespace

std::vector<GpuInfo> nvmlGpus()
{
    const Nvml &api = nvml();
    std::vector<GpuInfo> gpus;
    unsigned int count = 0;
    if (!api.ready || api.count(&count) != 0)
        return gpus;
    for (unsigned int index = 0; index < count; ++index) {
        if (auto gpu = query(api, index))
            gpus.push_back(std::move(*gpu));
    }
    return gpus;
}

std::optional<GpuInfo> nvmlGpu(int index)
{
    const Nvml &api = nvml();
    if (!api.ready || index < 0)
        return std::nullopt;
    return query(api, unsigned(index));
}

} // namespace corolla
