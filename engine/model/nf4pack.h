#pragma once
// Packing of weights as NF4 (the format in linearweight.h): the nearest level of every value,
// vectorised with AVX-512 where the processor has it, and the portable loop it must equal.
// Thread: any; pure functions.

#include <cstdint>

namespace corolla {

// NF4 codes and absmax of `blocks` consecutive blocks of 64 fp32 values (finite), packed as
// linearweight.h describes: codes gets 32 bytes and absmax one value per block.
void quantizeNf4Blocks(const float *values, std::int64_t blocks, std::uint8_t *codes,
                       float *absmax);

// The portable loop behind it where AVX-512 is missing; public so that tests compare the two.
void quantizeNf4BlocksPortable(const float *values, std::int64_t blocks, std::uint8_t *codes,
                               float *absmax);

} // namespace corolla
