#include "facade/demomodel.h"

#include <QDir>
#include <QFileInfo>

#include "testmodel/testmodel.h"

namespace corolla {

Result<QString> ensureDemoModel(const QString &dataFolder)
{
    const QString folder = QDir(dataFolder).filePath(QStringLiteral("demo-model"));
    // The weights are written last: a folder that has them is complete.
    if (QFileInfo::exists(QDir(folder).filePath(QStringLiteral("model.safetensors"))))
        return folder;
    // Written beside, then renamed, so an interrupted first run never leaves half a model.
    const QString partial = folder + QStringLiteral(".partial");
    QDir(partial).removeRecursively();
    TestModelSpec spec;
    spec.family = "llama";
    spec.shape = "demo";
    auto written = writeTestModel(partial.toStdString(), spec, 1);
    if (!written)
        return written.error();
    QDir(folder).removeRecursively();
    if (!QDir().rename(partial, folder))
        return makeError(ErrorCode::Io,
                         folder.toStdString() + ": cannot move the demo model into place");
    return folder;
}

} // namespace corolla
