#pragma once
// What a compute device can do, measured with libtorch tensor operations: its memory
// bandwidth (a large device-to-device copy) and its matrix-product rate. The bounds that the
// engine's benchmarks hold a GPU's decode and prefill against; on the CPU the benchmarks use
// their own probes (core/memorybandwidth.h).
// Thread: the calling thread's current stream.

#include <cstdint>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace corolla {

// Bytes per second read and written by the best of several copies of `bytes` on `device`.
double deviceCopyBandwidth(const c10::Device &device, std::int64_t bytes = std::int64_t(1) << 30);
// FLOP/s of the best of several [m, k] x [k, n] products in `dtype` on `device`.
double deviceMatmulFlops(const c10::Device &device, c10::ScalarType dtype, std::int64_t m,
                         std::int64_t n, std::int64_t k);
// Waits until `device` has finished the work queued on the current stream.
void synchronize(const c10::Device &device);

} // namespace corolla
