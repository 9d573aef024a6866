#pragma once
// Which of the engine's CPU kernels this processor runs, in words, for `corolla --version` and
// the benchmarks' reports: the bf16 and packed-weight products pick their loops by the same
// checks (gemvbf16.h, quantkernels.h).
// Thread: any.

#include <string>

namespace corolla {

// "AVX-512 with BF16 and VBMI", "AVX-512 with BF16", "AVX2 and FMA" or "portable (no AVX2)".
std::string cpuKernelsName();

} // namespace corolla
