#include "model/weightmemory.h"

#include <cstdlib>
#include <cstring>

#include <ATen/ops/from_blob.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace corolla {

namespace {
constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kMinimumBytes = std::size_t(1) << 20;
} // namespace

at::Tensor copyToWeightMemory(const at::Tensor &tensor)
{
    const at::Tensor source = tensor.contiguous();
    const std::size_t bytes = source.nbytes();
#if defined(__linux__)
    if (bytes < kMinimumBytes)
        return source;
    const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void *memory = std::aligned_alloc(kHugePage, rounded);
    if (!memory)
        return source; // the allocator said no; ordinary memory still works
    ::madvise(memory, rounded, MADV_HUGEPAGE); // a hint: failure only costs speed
    std::memcpy(memory, source.data_ptr(), bytes);
    return at::from_blob(memory, source.sizes(), [](void *pointer) { std::free(pointer); },
                         source.options());
#else
    (void)kHugePage;
    (void)kMinimumBytes;
    (void)bytes;
    return source;
#endif
}

} // namespace corolla
