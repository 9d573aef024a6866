#pragma once
// Reading and writing the fp32 or bf16 values the packed-weight kernels take and give, the
// same way on every instruction-set path.
// Thread: any.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>

#include "model/linearweight.h"

namespace corolla::packed {

inline float toFloat(const void *values, std::int64_t i, at::ScalarType dtype)
{
    return dtype == at::kBFloat16 ? float(static_cast<const c10::BFloat16 *>(values)[i])
                                  : static_cast<const float *>(values)[i];
}

// Rounds to nearest even, flushing subnormal values to zero as the AVX-512 bf16 instructions
// do, so that both paths give the same weights.
inline c10::BFloat16 toBf16(float value)
{
    return std::fpclassify(value) == FP_SUBNORMAL ? c10::BFloat16(std::copysign(0.0f, value))
                                                  : c10::BFloat16(value);
}

inline void store(void *values, std::int64_t i, float value, at::ScalarType dtype)
{
    if (dtype == at::kBFloat16)
        static_cast<c10::BFloat16 *>(values)[i] = toBf16(value);
    else
        static_cast<float *>(values)[i] = value;
}

// The fp32 value of bf16 bits.
inline float bf16Bits(std::uint16_t bits)
{
    const std::uint32_t wide = std::uint32_t(bits) << 16;
    float value;
    std::memcpy(&value, &wide, sizeof value);
    return value;
}

// Row `row`'s nf4 absmax values (k / 64 of them) in fp32: where they are stored, or, stored
// as bf16, widened into `buffer` (k / 64 floats).
inline const float *nf4RowAbsmax(const PackedView &w, std::int64_t row, float *buffer)
{
    const std::int64_t blocks = w.k / kNf4BlockSize;
    if (!w.absmaxBf16)
        return w.scales + row * blocks;
    const std::uint16_t *stored = w.absmaxBf16 + row * blocks;
    for (std::int64_t b = 0; b < blocks; ++b)
        buffer[b] = bf16Bits(stored[b]);
    return buffer;
}

// Room for one row's nf4 absmax values widened to fp32 (nf4RowAbsmax), in the decode and
// dequantizing loops: an array inside the object, so on the loop's stack, for rows of up to
// 65536 inputs, and the heap beyond. The stack matters: with the buffer allocated on the heap
// once per chunk of rows (the inner loop's instructions unchanged), the NF4 decode product
// streamed 10-20% slower where the bf16 one streamed over 60 GB/s (docs/benchmarks.md).
class Nf4AbsmaxBuffer {
public:
    explicit Nf4AbsmaxBuffer(const PackedView &w)
    {
        const std::int64_t blocks = w.absmaxBf16 ? w.k / kNf4BlockSize : 0;
        if (blocks > kInlineBlocks)
            m_heap.resize(std::size_t(blocks));
    }
    Nf4AbsmaxBuffer(const Nf4AbsmaxBuffer &) = delete;
    Nf4AbsmaxBuffer &operator=(const Nf4AbsmaxBuffer &) = delete;

    float *data() { return m_heap.empty() ? m_inline : m_heap.data(); }

private:
    static constexpr std::int64_t kInlineBlocks = 1024;
    float m_inline[kInlineBlocks];
    std::vector<float> m_heap;
};

// Where row `row`'s nf4 absmax values are stored (fp32 or bf16: nf4AbsmaxBytes each), for
// prefetching.
inline std::int64_t nf4AbsmaxBytes(const PackedView &w)
{
    return w.absmaxBf16 ? 2 : 4;
}
inline const char *nf4StoredAbsmax(const PackedView &w, std::int64_t row)
{
    const std::int64_t offset = row * (w.k / kNf4BlockSize);
    return w.absmaxBf16 ? reinterpret_cast<const char *>(w.absmaxBf16 + offset)
                        : reinterpret_cast<const char *>(w.scales + offset);
}

} // namespace corolla::packed
