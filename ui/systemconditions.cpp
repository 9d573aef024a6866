#include "ui/systemconditions.h"

#include <QDir>
#include <QFile>
#include <QStringList>

#ifdef Q_OS_WIN
#include <windows.h>
#endif

namespace corolla {

namespace {

QString readLine(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QString::fromLatin1(file.readLine()).trimmed();
}

} // namespace

std::optional<bool> SystemConditions::onMainsPower()
{
#ifdef Q_OS_WIN
    SYSTEM_POWER_STATUS status;
    if (!GetSystemPowerStatus(&status) || status.ACLineStatus == 255)
        return std::nullopt;
    return status.ACLineStatus == 1;
#else
    const QDir supplies(QStringLiteral("/sys/class/power_supply"));
    bool sawMains = false, sawBattery = false;
    for (const QString &name : supplies.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        const QString folder = supplies.filePath(name);
        const QString type = readLine(folder + QStringLiteral("/type"));
        if (type == QLatin1String("Mains")) {
            sawMains = true;
            if (readLine(folder + QStringLiteral("/online")) == QLatin1String("1"))
                return true;
        } else if (type == QLatin1String("Battery")) {
            sawBattery = true;
            if (readLine(folder + QStringLiteral("/status")) == QLatin1String("Discharging"))
                return false;
        }
    }
    if (sawMains)
        return false;
    return sawBattery ? std::optional<bool>(true) : std::nullopt; // a charging battery is on mains
#endif
}

bool SystemConditions::isIdle()
{
#ifdef Q_OS_WIN
    LASTINPUTINFO input{sizeof(LASTINPUTINFO), 0};
    if (!GetLastInputInfo(&input))
        return true;
    return GetTickCount() - input.dwTime >= 5u * 60u * 1000u;
#else
    // Jiffies of all CPUs from /proc/stat; ours from /proc/self/stat (utime + stime).
    const QStringList cpu =
        readLine(QStringLiteral("/proc/stat")).split(QLatin1Char(' '), Qt::SkipEmptyParts);
    const QString self = readLine(QStringLiteral("/proc/self/stat"));
    const QStringList own =
        self.mid(self.lastIndexOf(QLatin1Char(')')) + 2).split(QLatin1Char(' '));
    if (cpu.size() < 5 || own.size() < 13)
        return true;
    quint64 total = 0;
    for (int i = 1; i < cpu.size(); ++i)
        total += cpu[i].toULongLong();
    const quint64 idle =
        cpu[4].toULongLong() + (cpu.size() > 5 ? cpu[5].toULongLong() : 0); // idle + iowait
    const quint64 busy = total - idle;
    const quint64 ours = own[11].toULongLong() + own[12].toULongLong();
    const bool first = m_lastTotal == 0;
    const quint64 totalDelta = total - m_lastTotal, busyDelta = busy - m_lastBusy,
                  ourDelta = ours - m_lastOwn;
    m_lastTotal = total;
    m_lastBusy = busy;
    m_lastOwn = ours;
    if (first || totalDelta == 0)
        return true;
    const double others =
        double(busyDelta > ourDelta ? busyDelta - ourDelta : 0) / double(totalDelta);
    return others < 0.25;
#endif
}

} // namespace corolla
