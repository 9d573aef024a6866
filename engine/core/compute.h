#pragma once
// Where blocks compute and in which precision: the typed values behind what settings,
// command lines and swarm records carry as text ("cpu", "cuda:1", "bf16").
// Thread: any; plain value types and pure functions.

#include <string>
#include <string_view>

#include "core/result.h"

namespace corolla {

enum class ComputeDtype { Float32, BFloat16 };

// "fp32"/"float32" or "bf16"/"bfloat16"; an error naming the choices otherwise.
Result<ComputeDtype> computeDtypeFromName(std::string_view name);
// "fp32" or "bf16": the name records and settings use.
std::string_view computeDtypeName(ComputeDtype dtype);

// How a block's projection weights are held: as checkpoint values in the compute dtype, or
// packed (docs/quantization.md): int8 with one fp32 scale per output row, or NF4 codes with one
// fp32 absmax per 64 values. Norms, biases, embeddings and the LM head are never packed.
enum class Quantization { None, Int8, Nf4 };

// "none", "int8" or "nf4"; an error naming the choices otherwise.
Result<Quantization> quantizationFromName(std::string_view name);
// "none", "int8" or "nf4": the name records, settings and reports use.
std::string_view quantizationName(Quantization quantization);

struct ComputeDevice {
    // Auto: the first GPU when this machine and this build have one, else the CPU; resolved
    // when the engine starts (model/placement.h).
    enum class Kind { Cpu, Cuda, Auto };
    Kind kind = Kind::Cpu;
    int index = 0; // which GPU, for Cuda

    // "cpu", "auto", "cuda" (the first GPU) or "cuda:N"; an error saying what is expected
    // otherwise.
    static Result<ComputeDevice> fromName(std::string_view name);
    static ComputeDevice cuda(int index) { return {Kind::Cuda, index}; }
    static ComputeDevice automatic() { return {Kind::Auto, 0}; }
    // "cpu", "auto" or "cuda:N", what fromName reads back.
    std::string name() const;

    bool operator==(const ComputeDevice &) const = default;
};

// How blocks compute on their device. Native: on the CPU, the hand-written kernels where they
// apply (decode products, packed weights, the fused decode attention) and libtorch for the
// rest. Generic: libtorch tensor operations only, the same code on every device; the only
// backend a GPU runs, and one that CI runs on the CPU against the same references.
enum class ComputeBackend { Native, Generic };

// "native" or "generic"; an error naming the choices otherwise.
Result<ComputeBackend> computeBackendFromName(std::string_view name);
std::string_view computeBackendName(ComputeBackend backend);

} // namespace corolla
