#include "model/nf4bytetables.h"

#include "model/linearweight.h"
#include "model/packedvalues.h"

namespace corolla {

namespace {

Nf4ScaledTables makeTables()
{
    Nf4ScaledTables tables{};
    for (std::uint32_t t = 0; t < 256; ++t) {
        const float absmax = packed::bf16Bits(std::uint16_t(((126 + (t >> 7)) << 7) | (t & 127)));
        for (std::size_t code = 0; code < 16; ++code) {
            const std::uint16_t value = packed::toBf16(kNf4Levels[code] * absmax).x;
            tables.low[t][code] = std::uint8_t(value & 0xff);
            tables.high[t][code] = std::uint8_t(value >> 8);
        }
    }
    for (int e = 0; e < 256; ++e) {
        const int step = (e - 126 - (e & 1)) / 2;
        for (std::size_t i = 0; i < 32; ++i)
            tables.exponentStep[e][i] = kNf4Levels[i % 16] == 0.0f ? 0 : std::uint8_t(step);
    }
    return tables;
}

} // namespace

const Nf4ScaledTables &nf4ScaledTables()
{
    static const Nf4ScaledTables tables = makeTables();
    return tables;
}

} // namespace corolla
