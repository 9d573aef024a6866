#pragma once
// Kernels on packed weights (formats in linearweight.h): the matrix-vector products of
// decoding, which read the packed bytes once per token, and the dequantization of row tiles
// that prefill multiplies with the fast GEMM. AVX-512 where the processor has AVX512F, BW and
// BF16, AVX2 where it has AVX2 and FMA, a portable loop elsewhere: the same results up to the
// order of the fp32 sums (dequantized rows: exactly the same).
// Thread: any caller; the products fan out over the kernel pool (kernelthreads.h).

#include <cstdint>

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>

#include "core/compute.h"

namespace corolla {

// Products with at most this many input rows go to gemvPacked.
inline constexpr std::int64_t kPackedGemvMaxRows = 8;

// A packed weight [n, k] without ownership.
struct PackedView {
    Quantization quantization = Quantization::Int8;
    const void *codes = nullptr;   // int8 [n, k] or uint8 [n, k / 2]
    const float *scales = nullptr; // [n] or [n, k / 64]; null when absmaxBf16 holds them
    std::int64_t n = 0, k = 0;
    // nf4 absmax [n, k / 64] stored as bf16 (exactly their values: linearweight.h), else null.
    const std::uint16_t *absmaxBf16 = nullptr;
};

// Whether the AVX-512 kernels run here (otherwise the portable ones do).
bool hasPackedAvx512();

// y[r, j] = sum_i x[r, i] * W[j, i] + bias[j] for r < rows, W the dequantized weight, summed in
// fp32. x [rows, k], y [rows, n] and bias [n] (may be null) are contiguous, all in `dtype`
// (fp32 or bf16); 1 <= rows <= kPackedGemvMaxRows.
void gemvPacked(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                void *y, at::ScalarType dtype);

// Rows [begin, end) of the dequantized weight into `out`, contiguous, in `dtype` (fp32 or
// bf16: the fp32 values rounded to nearest even). Runs on the calling thread.
void dequantizePackedRows(const PackedView &weight, std::int64_t begin, std::int64_t end,
                          at::ScalarType dtype, void *out);

// The loops behind gemvPacked, public so that tests check each one where the processor runs
// it. The AVX-512 loops (hasPackedAvx512()); and, where the processor also has AVX512_VBMI
// (hasPackedVbmi()), the int8 product with bf16 inputs that gemvPacked then takes instead,
// which widens the codes to bf16 with byte lookups (quantkernelsvbmi.cpp).
void gemvPackedAvx512(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                      void *y, at::ScalarType dtype);
bool hasPackedVbmi();
void gemvPackedInt8Vbmi(const PackedView &weight, const c10::BFloat16 *x, std::int64_t rows,
                        const c10::BFloat16 *bias, c10::BFloat16 *y);

// The AVX2 loops behind these where AVX-512 is missing (public so that tests check them on
// every processor with AVX2 and FMA, hasPackedAvx2()), and the portable loops for processors
// with neither (public so that tests check them on every machine).
bool hasPackedAvx2();
void gemvPackedAvx2(const PackedView &weight, const void *x, std::int64_t rows, const void *bias,
                    void *y, at::ScalarType dtype);
void dequantizePackedRowsAvx2(const PackedView &weight, std::int64_t begin, std::int64_t end,
                              at::ScalarType dtype, void *out);
void gemvPackedPortable(const PackedView &weight, const void *x, std::int64_t rows,
                        const void *bias, void *y, at::ScalarType dtype);
void dequantizePackedRowsPortable(const PackedView &weight, std::int64_t begin, std::int64_t end,
                                  at::ScalarType dtype, void *out);

} // namespace corolla
