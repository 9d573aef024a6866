#pragma once
// The two clocks, in milliseconds. Wall-clock time is for what other machines read (a record's
// announcement and expiry); deadlines and idle times use the steady clock, which no clock
// adjustment moves.
// Thread: any.

#include <chrono>
#include <cstdint>

namespace corolla {

inline std::int64_t unixTimeMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::int64_t steadyTimeMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

} // namespace corolla
