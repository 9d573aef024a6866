#pragma once
// Parallel loops of the engine's own kernels, on the process's KernelPool (see
// core/kernelpool.h for why not OpenMP). A loop uses at most as many threads as libtorch is
// set to use on the calling thread (at::set_num_threads), so a caller that asked for one
// thread gets one.
// Thread: any.

#include <algorithm>
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

// Splits the n output rows of a matrix-vector product, `rowBytes` of weights each, into about
// kRowChunksPerThread chunks per thread of at least 64 KiB of weights, which the pool's threads
// claim one at a time: few enough that each thread streams long runs of rows (64 KiB chunks
// measured 30% slower: the threads kept trading claims and cache lines), enough that a thread
// that starts late leaves no long tail.
inline constexpr std::int64_t kRowChunksPerThread = 8;

template <typename RowRange>
void parallelRows(std::int64_t n, std::int64_t rowBytes, const RowRange &rows)
{
    const std::int64_t grain =
        std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(1, rowBytes));
    const int threads = kernelThreadLimit();
    const std::int64_t chunks = std::int64_t(threads) * kRowChunksPerThread;
    kernelPool().parallelFor(n, std::max(grain, (n + chunks - 1) / chunks), threads, rows);
}

} // namespace corolla
