#pragma once
// The processor this process runs on, as CPUID describes it: vendor, brand string and the
// family and model numbers that name its microarchitecture (AMD family 26 is Zen 5, 25 Zen 3
// and Zen 4; Intel family 6 with its model number). Benchmarks report it beside their figures,
// since the same virtual machine type may land on different hosts. Empty fields on processors
// without CPUID.
// Thread: any.

#include <cstdint>
#include <string>

namespace corolla {

struct ProcessorInfo {
    std::string vendor; // "AuthenticAMD", "GenuineIntel", ...
    std::string brand;  // the brand string, trimmed ("AMD EPYC 9B45", or what a hypervisor set)
    int family = 0;     // the display family: base family, plus the extended family where 15
    int model = 0;      // the display model: with the extended model where family is 6 or 15
    int stepping = 0;
};

// Display family, model and stepping from the signature in EAX of CPUID leaf 1 (the rules
// both vendors document); vendor and brand stay empty.
ProcessorInfo decodeProcessorSignature(std::uint32_t signature);

// This machine's processor; computed once.
const ProcessorInfo &processorInfo();

} // namespace corolla
