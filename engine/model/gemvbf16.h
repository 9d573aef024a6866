#pragma once
// Matrix-vector products for bf16 weights with AVX-512 BF16 dot-product instructions, and for
// fp32 weights with AVX-512 fused multiply-adds; on processors without AVX-512, with AVX2
// fused multiply-adds on weights widened to fp32 (bf16 products are exact in fp32 either way):
// decoding reads every weight once per token, so this loop sets the decode speed.
// Thread: any caller; it fans out over libtorch's intra-op thread pool.

#include <cstdint>

#include <c10/util/BFloat16.h>

namespace corolla {

// Whether this processor runs gemvBf16 (AVX512F, AVX512BW and AVX512_BF16, or AVX2 and FMA).
bool hasBf16Gemv();
// Whether this processor runs gemvFp32 (AVX512F, or AVX2 and FMA).
bool hasFp32Gemv();
// Whether this processor multiplies bf16 natively (AVX512_BF16). Without it libtorch's bf16
// GEMM is emulated and many times slower than its fp32 GEMM on the same values widened.
bool hasNativeBf16();

// y[r, j] = bf16(sum_i x[r, i] * w[j, i] + bias[j]) for r < rows, accumulating in fp32.
// x [rows, k], w [n, k], y [rows, n] row-major and contiguous; bias may be null.
// Requires hasBf16Gemv() and 1 <= rows <= 4.
void gemvBf16(const c10::BFloat16 *x, std::int64_t rows, const c10::BFloat16 *w, std::int64_t n,
              std::int64_t k, const c10::BFloat16 *bias, c10::BFloat16 *y);

// The same for fp32 weights and inputs with fused multiply-adds; requires hasFp32Gemv().
void gemvFp32(const float *x, std::int64_t rows, const float *w, std::int64_t n, std::int64_t k,
              const float *bias, float *y);

// The AVX2 loops behind these where AVX-512 is missing; public so that tests check them on
// every processor with AVX2 and FMA (hasAvx2Gemv()).
bool hasAvx2Gemv();
void gemvBf16Avx2(const c10::BFloat16 *x, std::int64_t rows, const c10::BFloat16 *w, std::int64_t n,
                  std::int64_t k, const c10::BFloat16 *bias, c10::BFloat16 *y);
void gemvFp32Avx2(const float *x, std::int64_t rows, const float *w, std::int64_t n, std::int64_t k,
                  const float *bias, float *y);

} // namespace corolla
