#pragma once
// Parallel loops of the engine's own kernels, on the process's KernelPool (see
// core/kernelpool.h for why not OpenMP). A loop uses at most as many threads as libtorch is
// set to use on the calling thread (at::set_num_threads), so a caller that asked for one
// thread gets one.
// Thread: any.

#include <cstdint>

#include "core/kernelpool.h"

namespace corolla {

// The process's pool, made on first use with libtorch's thread count of the first caller.
KernelPool &kernelPool();

// The calling thread's libtorch thread count.
int kernelThreadLimit();

template <typename Task> void parallelKernel(std::int64_t n, std::int64_t grain, const Task &task)
{
    kernelPool().parallelFor(n, grain, kernelThreadLimit(), task);
}

} // namespace corolla
