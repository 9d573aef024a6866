#include "model/quantkernels.h"

// The portable loops on packed weights, for processors with neither AVX-512 nor AVX2, and the
// reference the vector loops are tested against: one weight row unpacked to fp32 at a time.

#include <algorithm>
#include <vector>

#include "model/kernelthreads.h"
#include "model/linearweight.h"
#include "model/packedvalues.h"

namespace corolla {

using packed::nf4RowAbsmax;
using packed::store;
using packed::toBf16;
using packed::toFloat;

namespace {

// Row `row` of an int8 weight as integers, or of an nf4 weight as its values in `dtype`
// (widened back to float), into `out` [k]; `absmaxBuffer` is an Nf4AbsmaxBuffer's room.
void unpackRow(const PackedView &w, std::int64_t row, at::ScalarType dtype, float *out,
               float *absmaxBuffer)
{
    if (w.quantization == Quantization::Int8) {
        const auto *codes = static_cast<const std::int8_t *>(w.codes) + row * w.k;
        for (std::int64_t i = 0; i < w.k; ++i)
            out[i] = float(codes[i]);
        return;
    }
    const auto *codes = static_cast<const std::uint8_t *>(w.codes) + row * (w.k / 2);
    const float *absmax = nf4RowAbsmax(w, row, absmaxBuffer);
    for (std::int64_t block = 0; block < w.k / kNf4BlockSize; ++block) {
        float *values = out + block * kNf4BlockSize;
        const std::uint8_t *bytes = codes + block * (kNf4BlockSize / 2);
        for (std::int64_t j = 0; j < kNf4BlockSize / 2; ++j) {
            values[j] = kNf4Levels[bytes[j] & 15] * absmax[block];
            values[j + kNf4BlockSize / 2] = kNf4Levels[bytes[j] >> 4] * absmax[block];
        }
    }
    if (dtype == at::kBFloat16) {
        for (std::int64_t i = 0; i < w.k; ++i)
            out[i] = float(toBf16(out[i]));
    }
}

// Output rows [begin, end) of the portable product against `rows` input rows widened to fp32.
// int8 with fp32 activations multiplies the dequantized weights; with bf16 ones the row scale
// multiplies the sum of the exact integer products, as the AVX-512 kernels do.
void portableRange(const PackedView &w, const float *inputs, std::int64_t rows, const void *bias,
                   void *y, at::ScalarType dtype, std::int64_t begin, std::int64_t end)
{
    const bool int8 = w.quantization == Quantization::Int8;
    std::vector<float> weights(std::size_t(w.k));
    packed::Nf4AbsmaxBuffer absmax(w);
    for (std::int64_t row = begin; row < end; ++row) {
        unpackRow(w, row, dtype, weights.data(), absmax.data());
        const float scale = int8 ? w.scales[row] : 1.0f;
        if (int8 && dtype == at::kFloat) {
            for (float &weight : weights)
                weight *= scale;
        }
        const float sumScale = int8 && dtype != at::kFloat ? scale : 1.0f;
        for (std::int64_t r = 0; r < rows; ++r) {
            const float *input = inputs + r * w.k;
            float sum = 0;
            for (std::int64_t i = 0; i < w.k; ++i)
                sum += weights[std::size_t(i)] * input[i];
            sum *= sumScale;
            if (bias)
                sum += toFloat(bias, row, dtype);
            store(y, r * w.n + row, sum, dtype);
        }
    }
}

} // namespace

// The portable product: one unpacked weight row at a time against every input row.
void gemvPackedPortable(const PackedView &w, const void *x, std::int64_t rows, const void *bias,
                        void *y, at::ScalarType dtype)
{
    std::vector<float> inputs(std::size_t(rows * w.k));
    for (std::int64_t i = 0; i < rows * w.k; ++i)
        inputs[std::size_t(i)] = toFloat(x, i, dtype);
    const std::int64_t rowBytes = w.quantization == Quantization::Int8 ? w.k : w.k / 2;
    parallelKernel(w.n, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(1, rowBytes)),
                   [&](std::int64_t begin, std::int64_t end) {
                       portableRange(w, inputs.data(), rows, bias, y, dtype, begin, end);
                   });
}

void dequantizePackedRowsPortable(const PackedView &w, std::int64_t begin, std::int64_t end,
                                  at::ScalarType dtype, void *out)
{
    std::vector<float> values(std::size_t(w.k));
    packed::Nf4AbsmaxBuffer absmax(w);
    for (std::int64_t row = begin; row < end; ++row) {
        unpackRow(w, row, at::kFloat, values.data(), absmax.data());
        const float scale = w.quantization == Quantization::Int8 ? w.scales[row] : 1.0f;
        for (std::int64_t i = 0; i < w.k; ++i)
            store(out, (row - begin) * w.k + i, values[std::size_t(i)] * scale, dtype);
    }
}

} // namespace corolla
