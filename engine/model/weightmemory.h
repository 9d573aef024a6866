#pragma once
// Memory for large weight matrices: 2 MiB aligned and, on Linux, backed by transparent huge
// pages. Decoding streams every weight once per token, and with 4 KiB pages each matrix row
// costs a TLB miss and a restart of the hardware prefetcher; huge pages measured 15-20%
// faster matrix-vector products here.
// Thread: any.

#include <ATen/core/Tensor.h>

namespace corolla {

// A contiguous copy of `tensor` in huge-page-backed memory when it is large enough to
// benefit (>= 1 MiB); smaller tensors come back as tensor.contiguous().
at::Tensor copyToWeightMemory(const at::Tensor &tensor);

// While one lives, the page mappings of all weight memory of this process are kept warm, by reading
// one byte of every 2 MiB page every 10 ms (at most 1024 pages a round, the next ones in the
// next round).
//
// Why: a server idles between the steps of a session while the token travels through the
// rest of the swarm. On virtual machines whose hypervisor ages the mappings of guest memory
// left untouched, the first pass over the weights after such a gap ran 20-40% slower (700 MB
// read back to back in 20.7 ms, after a 150 ms pause in 24.0 ms median; with the touches
// 20.6 ms). A round costs well under 1% of a core. Servers keep one while they hold open
// inference sessions only.
//
// One warmer thread serves the whole process (the weights of every server in it); it runs
// while at least one KeepWeightsWarm lives.
class KeepWeightsWarm {
public:
    KeepWeightsWarm();
    ~KeepWeightsWarm();
    KeepWeightsWarm(const KeepWeightsWarm &) = delete;
    KeepWeightsWarm &operator=(const KeepWeightsWarm &) = delete;
};

} // namespace corolla
