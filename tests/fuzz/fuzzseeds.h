#pragma once
// Seeds for the fuzz targets: each target writes valid inputs of its own kind into the folder
// named by COROLLA_FUZZ_SEEDS (run-fuzz.sh runs every target once that way before fuzzing).

#include <cstdlib>
#include <string>

#include <QDir>
#include <QFile>

namespace corolla::fuzz {

// The seed folder, or an empty string when no seeds are asked for.
inline QString seedFolder()
{
    const char *folder = std::getenv("COROLLA_FUZZ_SEEDS");
    if (!folder)
        return {};
    QDir().mkpath(QString::fromLocal8Bit(folder));
    return QString::fromLocal8Bit(folder);
}

inline void writeSeed(const QString &folder, const QString &name, const std::string &bytes)
{
    QFile file(QDir(folder).filePath(name));
    if (file.open(QIODevice::WriteOnly))
        file.write(bytes.data(), qint64(bytes.size()));
}

// Stops the run with a message: a property that must hold did not.
[[noreturn]] inline void violated(const char *what)
{
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
}

} // namespace corolla::fuzz
