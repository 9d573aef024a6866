#include "core/compute.h"

#include <charconv>

namespace corolla {

Result<ComputeDtype> computeDtypeFromName(std::string_view name)
{
    if (name == "fp32" || name == "float32")
        return ComputeDtype::Float32;
    if (name == "bf16" || name == "bfloat16")
        return ComputeDtype::BFloat16;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown dtype '" + std::string(name) + "' (choose fp32 or bf16)");
}

std::string_view computeDtypeName(ComputeDtype dtype)
{
    switch (dtype) {
    case ComputeDtype::Float32: return "fp32";
    case ComputeDtype::BFloat16: return "bf16";
    }
    return "fp32";
}

Result<Quantization> quantizationFromName(std::string_view name)
{
    if (name == "none")
        return Quantization::None;
    if (name == "int8")
        return Quantization::Int8;
    if (name == "nf4")
        return Quantization::Nf4;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown quantization '" + std::string(name) + "' (choose none, int8 or nf4)");
}

std::string_view quantizationName(Quantization quantization)
{
    switch (quantization) {
    case Quantization::None: return "none";
    case Quantization::Int8: return "int8";
    case Quantization::Nf4: return "nf4";
    }
    return "none";
}

Result<ComputeDevice> ComputeDevice::fromName(std::string_view name)
{
    if (name == "cpu")
        return ComputeDevice{};
    if (name == "auto")
        return automatic();
    if (name == "cuda")
        return cuda(0);
    constexpr std::string_view kCudaPrefix = "cuda:";
    if (name.substr(0, kCudaPrefix.size()) == kCudaPrefix) {
        const std::string_view digits = name.substr(kCudaPrefix.size());
        int index = -1;
        const auto [end, failure] =
            std::from_chars(digits.data(), digits.data() + digits.size(), index);
        if (failure == std::errc() && end == digits.data() + digits.size() && !digits.empty()
            && index >= 0)
            return cuda(index);
    }
    return makeError(ErrorCode::InvalidArgument, "unknown device '" + std::string(name)
                                                     + "' (choose cpu, auto, cuda or cuda:N)");
}

std::string ComputeDevice::name() const
{
    switch (kind) {
    case Kind::Cpu: return "cpu";
    case Kind::Auto: return "auto";
    case Kind::Cuda: return "cuda:" + std::to_string(index);
    }
    return "cpu";
}

Result<ComputeBackend> computeBackendFromName(std::string_view name)
{
    if (name == "native")
        return ComputeBackend::Native;
    if (name == "generic")
        return ComputeBackend::Generic;
    return makeError(ErrorCode::InvalidArgument,
                     "unknown backend '" + std::string(name) + "' (choose native or generic)");
}

std::string_view computeBackendName(ComputeBackend backend)
{
    switch (backend) {
    case ComputeBackend::Native: return "native";
    case ComputeBackend::Generic: return "generic";
    }
    return "native";
}

} // namespace corolla
