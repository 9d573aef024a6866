#include "core/processorinfo.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#define COROLLA_HAVE_CPUID 1
#endif

namespace corolla {

namespace {

#ifdef COROLLA_HAVE_CPUID
// EAX, EBX, ECX, EDX of CPUID `leaf` (subleaf 0).
std::array<std::uint32_t, 4> cpuid(std::uint32_t leaf)
{
#if defined(_MSC_VER)
    int registers[4] = {};
    __cpuidex(registers, int(leaf), 0);
    return {std::uint32_t(registers[0]), std::uint32_t(registers[1]), std::uint32_t(registers[2]),
            std::uint32_t(registers[3])};
#else
    unsigned int a = 0, b = 0, c = 0, d = 0;
    __cpuid_count(leaf, 0, a, b, c, d);
    return {a, b, c, d};
#endif
}

std::string trimmed(const char *text)
{
    std::string value(text);
    const auto first = value.find_first_not_of(' ');
    if (first == std::string::npos)
        return {};
    return value.substr(first, value.find_last_not_of(' ') - first + 1);
}

ProcessorInfo readProcessor()
{
    const auto basic = cpuid(0);
    char vendor[13] = {};
    std::memcpy(vendor, &basic[1], 4); // EBX, EDX, ECX spell the vendor
    std::memcpy(vendor + 4, &basic[3], 4);
    std::memcpy(vendor + 8, &basic[2], 4);
    ProcessorInfo info = basic[0] >= 1 ? decodeProcessorSignature(cpuid(1)[0]) : ProcessorInfo{};
    info.vendor = vendor;
    if (cpuid(0x80000000u)[0] >= 0x80000004u) {
        char brand[49] = {};
        for (std::uint32_t leaf = 0; leaf < 3; ++leaf) {
            const auto part = cpuid(0x80000002u + leaf);
            std::memcpy(brand + 16 * leaf, part.data(), 16);
        }
        info.brand = trimmed(brand);
    }
    return info;
}
#endif

} // namespace

ProcessorInfo decodeProcessorSignature(std::uint32_t signature)
{
    const int baseFamily = int((signature >> 8) & 0xF), baseModel = int((signature >> 4) & 0xF);
    ProcessorInfo info;
    info.stepping = int(signature & 0xF);
    info.family = baseFamily == 0xF ? baseFamily + int((signature >> 20) & 0xFF) : baseFamily;
    info.model = baseFamily == 0x6 || baseFamily == 0xF
                     ? int((signature >> 16) & 0xF) << 4 | baseModel
                     : baseModel;
    return info;
}

const ProcessorInfo &processorInfo()
{
#ifdef COROLLA_HAVE_CPUID
    static const ProcessorInfo info = readProcessor();
#else
    static const ProcessorInfo info;
#endif
    return info;
}

} // namespace corolla
