#include "model/rowkernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>

#include "model/kernelthreads.h"
#include "model/vectormath.h"

namespace corolla {

namespace {

// Rows of about this many values per chunk of the kernel pool: a decode step's single row
// stays on the calling thread, a prefill's rows spread over the pool.
constexpr std::int64_t kValuesPerChunk = 32768;

template <typename T> float load(const T *values, std::int64_t i)
{
    return float(values[i]);
}

// `value` rounded to T as libtorch rounds a result (nearest even for bf16).
template <typename T> float rounded(float value)
{
    return float(T(value));
}

template <typename Rows>
void forEachRowRange(std::int64_t rows, std::int64_t width, const Rows &body)
{
    const std::int64_t grain =
        std::max<std::int64_t>(1, kValuesPerChunk / std::max<std::int64_t>(1, width));
    parallelKernel(rows, grain, body);
}

#ifdef COROLLA_HAVE_VECTOR_MATH

using vecmath::exp512;

#define COROLLA_ROW_TARGET COROLLA_VECTOR_MATH_TARGET

// fp32 lanes rounded to bf16 as c10::BFloat16 rounds (nearest even, NaN to the quiet 0x7fc0),
// widened back to fp32.
COROLLA_ROW_TARGET inline __m512 roundBf16(__m512 value)
{
    const __m512i bits = _mm512_castps_si512(value);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    rounded = _mm512_and_si512(rounded, _mm512_set1_epi32(int(0xffff0000u)));
    const __mmask16 nan = _mm512_cmp_ps_mask(value, value, _CMP_UNORD_Q);
    rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7fc00000));
    return _mm512_castsi512_ps(rounded);
}

template <typename T> COROLLA_ROW_TARGET inline __m512 load512(const T *values)
{
    if constexpr (sizeof(T) == 2)
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(values))),
            16));
    else
        return _mm512_loadu_ps(values);
}

template <typename T> COROLLA_ROW_TARGET inline void store512(T *values, __m512 value)
{
    if constexpr (sizeof(T) == 2)
        _mm256_storeu_si256(
            reinterpret_cast<__m256i *>(values),
            _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(value), 16)));
    else
        _mm512_storeu_ps(values, value);
}

// `value` rounded to T (bf16: roundBf16; fp32: as it is).
template <typename T> COROLLA_ROW_TARGET inline __m512 roundTo(__m512 value)
{
    if constexpr (sizeof(T) == 2)
        return roundBf16(value);
    else
        return value;
}

// The sum of the squares of a row of `width` values (a multiple of 16), in fp32.
template <typename T> COROLLA_ROW_TARGET float sumOfSquaresAvx512(const T *in, std::int64_t width)
{
    __m512 first = _mm512_setzero_ps(), second = _mm512_setzero_ps();
    std::int64_t i = 0;
    for (; i + 32 <= width; i += 32) {
        const __m512 a = load512(in + i), b = load512(in + i + 16);
        first = _mm512_fmadd_ps(a, a, first);
        second = _mm512_fmadd_ps(b, b, second);
    }
    if (i < width) {
        const __m512 a = load512(in + i);
        first = _mm512_fmadd_ps(a, a, first);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(first, second));
}

// out = weight * round(in * inverse), or with `scale` round(in * inverse * scale), 16 lanes at
// a time (`width` a multiple of 16).
template <typename T>
COROLLA_ROW_TARGET void normaliseRowAvx512(const T *in, const T *weight, const float *scale,
                                           float inverse, T *out, std::int64_t width)
{
    const __m512 factor = _mm512_set1_ps(inverse);
    for (std::int64_t i = 0; i < width; i += 16) {
        const __m512 normalised = _mm512_mul_ps(load512(in + i), factor);
        const __m512 value = scale ? _mm512_mul_ps(normalised, _mm512_loadu_ps(scale + i))
                                   : _mm512_mul_ps(load512(weight + i), roundTo<T>(normalised));
        store512(out + i, roundTo<T>(value));
    }
}

// One head's rotation, 16 lanes of each half at a time (half a multiple of 16), rounded where
// the scalar loop rounds.
template <typename T>
COROLLA_ROW_TARGET void rotaryRowAvx512(const T *in, const T *cos, const T *sin, T *out,
                                        std::int64_t half)
{
    const auto round = roundTo<T>;
    for (std::int64_t i = 0; i < half; i += 16) {
        const __m512 low = load512(in + i), high = load512(in + half + i);
        const __m512 first = _mm512_add_ps(
            round(_mm512_mul_ps(low, load512(cos + i))),
            round(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), high), load512(sin + i))));
        const __m512 second = _mm512_add_ps(round(_mm512_mul_ps(high, load512(cos + half + i))),
                                            round(_mm512_mul_ps(low, load512(sin + half + i))));
        store512(out + i, round(first));
        store512(out + half + i, round(second));
    }
}

// silu(g) * u over [begin, end) of one row, 16 lanes at a time; returns where it stopped.
template <typename T>
COROLLA_ROW_TARGET std::int64_t siluGateAvx512(const T *gate, const T *up, T *out,
                                               std::int64_t width)
{
    constexpr bool bf16 = sizeof(T) == 2;
    std::int64_t i = 0;
    for (; i + 16 <= width; i += 16) {
        const __m512 g = load512(gate + i);
        __m512 silu = _mm512_div_ps(
            g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        if constexpr (bf16)
            silu = roundBf16(silu);
        __m512 product = _mm512_mul_ps(silu, load512(up + i));
        if constexpr (bf16)
            product = roundBf16(product);
        store512(out + i, product);
    }
    return i;
}

#endif

template <typename T>
void rmsNormTyped(const T *x, const T *weight, const float *scale, double eps, std::int64_t rows,
                  std::int64_t width, T *out)
{
    const float epsilon = float(eps);
#ifdef COROLLA_HAVE_VECTOR_MATH
    const bool vector = width % 16 == 0 && vecmath::hasVectorMathAvx512();
#endif
    forEachRowRange(rows, width, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t row = begin; row < end; ++row) {
            const T *in = x + row * width;
            T *target = out + row * width;
#ifdef COROLLA_HAVE_VECTOR_MATH
            if (vector) {
                const float sum = sumOfSquaresAvx512(in, width);
                const float inverse = 1.0f / std::sqrt(sum / float(width) + epsilon);
                normaliseRowAvx512(in, weight, scale, inverse, target, width);
                continue;
            }
#endif
            float sum = 0.0f;
            for (std::int64_t i = 0; i < width; ++i)
                sum += load(in, i) * load(in, i);
            const float inverse = 1.0f / std::sqrt(sum / float(width) + epsilon);
            if (scale) {
                for (std::int64_t i = 0; i < width; ++i)
                    target[i] = T(load(in, i) * inverse * scale[i]);
            } else {
                for (std::int64_t i = 0; i < width; ++i)
                    target[i] = T(load(weight, i) * rounded<T>(load(in, i) * inverse));
            }
        }
    });
}

template <typename T> void rotaryTyped(const at::Tensor &x, const T *cos, const T *sin, T *out)
{
    const std::int64_t batch = x.size(0), heads = x.size(1), steps = x.size(2), dim = x.size(3);
    const std::int64_t half = dim / 2;
    const T *base = static_cast<const T *>(x.data_ptr());
    const std::int64_t sb = x.stride(0), sh = x.stride(1), st = x.stride(2);
#ifdef COROLLA_HAVE_VECTOR_MATH
    const bool vector = half % 16 == 0 && vecmath::hasVectorMathAvx512();
#endif
    forEachRowRange(batch * heads * steps, dim, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t row = begin; row < end; ++row) {
            const std::int64_t t = row % steps, h = (row / steps) % heads,
                               b = row / (steps * heads);
            const T *in = base + b * sb + h * sh + t * st;
            const T *c = cos + (b * steps + t) * dim;
            const T *s = sin + (b * steps + t) * dim;
            T *target = out + row * dim;
#ifdef COROLLA_HAVE_VECTOR_MATH
            if (vector) {
                rotaryRowAvx512(in, c, s, target, half);
                continue;
            }
#endif
            for (std::int64_t i = 0; i < dim; ++i) {
                const float rotated = i < half ? -load(in, i + half) : load(in, i - half);
                target[i] =
                    T(rounded<T>(load(in, i) * load(c, i)) + rounded<T>(rotated * load(s, i)));
            }
        }
    });
}

template <typename T>
void siluGateTyped(const T *values, std::int64_t rows, std::int64_t width, T *out)
{
    forEachRowRange(rows, 2 * width, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t row = begin; row < end; ++row) {
            const T *gate = values + row * 2 * width;
            const T *up = gate + width;
            T *target = out + row * width;
            std::int64_t i = 0;
#ifdef COROLLA_HAVE_VECTOR_MATH
            if (vecmath::hasVectorMathAvx512())
                i = siluGateAvx512(gate, up, target, width);
#endif
            for (; i < width; ++i) {
                const float g = load(gate, i);
                target[i] = T(rounded<T>(g / (1.0f + std::exp(-g))) * load(up, i));
            }
        }
    });
}

bool isRowDtype(const at::Tensor &t)
{
    return t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16;
}

} // namespace

bool rowKernelsApply(const at::Tensor &x, const at::Tensor &other)
{
    const bool noGrad = !x.requires_grad() && !(other.defined() && other.requires_grad());
    return x.is_cpu() && (!other.defined() || other.is_cpu()) && noGrad && isRowDtype(x);
}

at::Tensor rmsNormRows(const at::Tensor &x, const at::Tensor &weight, double eps, bool scaled)
{
    const at::Tensor input = x.contiguous();
    const std::int64_t width = x.size(-1), rows = width == 0 ? 0 : input.numel() / width;
    at::Tensor out = at::empty(input.sizes(), input.options());
    const at::Tensor factors =
        scaled ? weight.to(at::kFloat).contiguous() : weight.to(x.scalar_type()).contiguous();
    const float *scale = scaled ? factors.data_ptr<float>() : nullptr;
    if (x.scalar_type() == at::kBFloat16) {
        rmsNormTyped(input.data_ptr<c10::BFloat16>(),
                     scaled ? nullptr : factors.data_ptr<c10::BFloat16>(), scale, eps, rows, width,
                     out.data_ptr<c10::BFloat16>());
    } else {
        rmsNormTyped(input.data_ptr<float>(), scaled ? nullptr : factors.data_ptr<float>(), scale,
                     eps, rows, width, out.data_ptr<float>());
    }
    return out;
}

at::Tensor rotaryRows(const at::Tensor &x, const at::Tensor &cos, const at::Tensor &sin)
{
    at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
    const at::Tensor c =
        cos.to(x.scalar_type()).expand({x.size(0), 1, x.size(2), x.size(3)}).contiguous();
    const at::Tensor s =
        sin.to(x.scalar_type()).expand({x.size(0), 1, x.size(2), x.size(3)}).contiguous();
    if (x.scalar_type() == at::kBFloat16)
        rotaryTyped(x, c.data_ptr<c10::BFloat16>(), s.data_ptr<c10::BFloat16>(),
                    out.data_ptr<c10::BFloat16>());
    else
        rotaryTyped(x, c.data_ptr<float>(), s.data_ptr<float>(), out.data_ptr<float>());
    return out;
}

at::Tensor siluGateRows(const at::Tensor &gateUp, std::int64_t width)
{
    const at::Tensor input = gateUp.contiguous();
    auto sizes = input.sizes().vec();
    sizes.back() = width;
    at::Tensor out = at::empty(sizes, input.options());
    const std::int64_t rows = width == 0 ? 0 : out.numel() / width;
    if (input.scalar_type() == at::kBFloat16)
        siluGateTyped(input.data_ptr<c10::BFloat16>(), rows, width, out.data_ptr<c10::BFloat16>());
    else
        siluGateTyped(input.data_ptr<float>(), rows, width, out.data_ptr<float>());
    return out;
}

} // namespace corolla
