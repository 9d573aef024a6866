#include "model/cpukernels.h"

#include "model/gemvbf16.h"
#include "model/quantkernels.h"

namespace corolla {

std::string cpuKernelsName()
{
    if (hasNativeBf16() && hasBf16Gemv() && hasPackedAvx512())
        return hasPackedVbmi() ? "AVX-512 with BF16 and VBMI" : "AVX-512 with BF16";
    if (hasAvx2Gemv() && hasPackedAvx2())
        return "AVX2 and FMA";
    return "portable (no AVX2)";
}

} // namespace corolla
