#pragma once
// The NF4 weights of a block whose absmax is held in bf16, bf16(level × absmax), as byte
// tables made once per process: the AVX2 bf16 product (quantkernelsavx2.cpp) looks its
// weights up with vpshufb, 16 bytes to a table, and finds each block's tables here instead of
// multiplying and rounding 16 levels per block.
//
// For each absmax a of exponent 126 + p (p = 0, 1) and each of the 128 mantissas, the low and
// the high bytes of bf16(level × a). An absmax of exponent e takes the tables of its mantissa
// and of p = e mod 2, and adds exponentStep[e] to the high bytes, which hold the sign and the
// upper seven bits of the exponent: (e − 126 − p) / 2 there is e − 126 − p on the exponent,
// and the zero level's step is zero. Scaling by a power of two commutes with both roundings
// (to fp32, then to bf16) while every value stays normal, which holds for e in
// [kNf4FastExponentMin, kNf4FastExponentMax]: the level nearest zero, 0.0796, times an absmax
// of exponent e is at least 2^(e − 131) and the largest, 1, at most 2^(e − 126). Other absmax
// values (zero, subnormal, the largest) multiply and round as the other loops do.
// Thread: any (made on first use, read-only after).

#include <cstdint>

namespace corolla {

inline constexpr unsigned kNf4FastExponentMin = 8, kNf4FastExponentMax = 253;

struct Nf4ScaledTables {
    alignas(32) std::uint8_t low[256][16];          // [p << 7 | mantissa][code]
    alignas(32) std::uint8_t high[256][16];         // the same for the high bytes
    alignas(32) std::uint8_t exponentStep[256][32]; // [e]: per code, twice (both 128-bit lanes)
};

const Nf4ScaledTables &nf4ScaledTables();

} // namespace corolla
