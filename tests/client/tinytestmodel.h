#pragma once
// The tiny test models the swarm tests serve, written once per test folder.

#include <cstdint>

#include <QFileInfo>
#include <QString>
#include <QTemporaryDir>
#include <QtGlobal>

#include "testmodel/testmodel.h"

namespace corolla::swarmtest {

// The tiny test model of `family` in fp32 with weights from `seed`, written into `folder`
// (once: later calls find it there).
inline QString tinyTestModel(const QTemporaryDir &folder, const QString &family, std::uint64_t seed)
{
    const QString path = folder.filePath(family);
    if (!QFileInfo::exists(path)) {
        auto written =
            writeTestModel(path.toStdString(), {family.toStdString(), "tiny", at::kFloat, seed}, 1);
        if (!written)
            qFatal("%s", written.error().message.c_str());
    }
    return path;
}

} // namespace corolla::swarmtest
