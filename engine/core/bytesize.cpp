#include "core/bytesize.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace corolla {

Result<std::int64_t> parseByteSize(const std::string &text)
{
    char *end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    std::string unit(end ? end : "");
    for (char &c : unit)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    double scale = 0.0;
    if (unit.empty() || unit == "b")
        scale = 1.0;
    else if (unit == "k" || unit == "kb")
        scale = 1e3;
    else if (unit == "kib")
        scale = 1024.0;
    else if (unit == "m" || unit == "mb")
        scale = 1e6;
    else if (unit == "mib")
        scale = 1024.0 * 1024.0;
    else if (unit == "g" || unit == "gb")
        scale = 1e9;
    else if (unit == "gib")
        scale = 1024.0 * 1024.0 * 1024.0;
    else if (unit == "t" || unit == "tb")
        scale = 1e12;
    else if (unit == "tib")
        scale = 1024.0 * 1024.0 * 1024.0 * 1024.0;
    if (end == text.c_str() || scale == 0.0 || !std::isfinite(value) || value <= 0.0
        || value * scale > 9e18)
        return makeError(ErrorCode::InvalidArgument,
                         "'" + text + "' is not a size (examples: 8GiB, 512MB, 1.5G)");
    return std::int64_t(value * scale);
}

std::string formatBytes(std::int64_t bytes)
{
    char text[32];
    const double gib = double(bytes) / double(1 << 30);
    if (gib >= 1.0)
        std::snprintf(text, sizeof text, "%.2f GiB", gib);
    else
        std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / double(1 << 20));
    return text;
}

} // namespace corolla
