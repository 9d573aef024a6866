#pragma once
// What a volunteer's policies ask of the computer: is it on mains power, and is it idle.
// On Linux, power comes from /sys/class/power_supply and "idle" means the other programs
// use less than a quarter of the CPU (a desktop session's input idle time is not readable
// without X11/Wayland-specific extensions); on Windows, from GetSystemPowerStatus and
// GetLastInputInfo (five minutes without input).
// Thread: the GUI thread.

#include <optional>

#include <QtGlobal>

namespace corolla {

class SystemConditions {
public:
    virtual ~SystemConditions() = default;
    // True on mains, false on battery, nullopt when the system does not say.
    virtual std::optional<bool> onMainsPower();
    // Whether the computer is idle since the last call (the first call says true).
    virtual bool isIdle();

private:
    quint64 m_lastTotal = 0;
    quint64 m_lastBusy = 0;
    quint64 m_lastOwn = 0;
};

} // namespace corolla
