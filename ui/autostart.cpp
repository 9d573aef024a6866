#include "ui/autostart.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QSettings>
#include <QStandardPaths>

namespace corolla {

namespace {

#ifdef Q_OS_WIN
const QString kRunKey =
    QStringLiteral("HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run");
#else
QString desktopEntryPath()
{
    return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation))
        .filePath(QStringLiteral("autostart/corolla.desktop"));
}
#endif

} // namespace

bool setStartAtLogin(bool enabled, const QString &executable, QString *error)
{
#ifdef Q_OS_WIN
    QSettings key(kRunKey, QSettings::NativeFormat);
    if (enabled)
        key.setValue(
            QStringLiteral("Corolla"),
            QStringLiteral("\"%1\" --minimized").arg(QDir::toNativeSeparators(executable)));
    else
        key.remove(QStringLiteral("Corolla"));
    key.sync();
    if (key.status() != QSettings::NoError) {
        *error =
            QCoreApplication::translate("corolla::SettingsPage", "the registry refused the change");
        return false;
    }
    return true;
#else
    const QString path = desktopEntryPath();
    if (!enabled) {
        QFile::remove(path);
        return true;
    }
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile file(path);
    const QString entry =
        QStringLiteral("[Desktop Entry]\nType=Application\nName=Corolla\n"
                       "Exec=\"%1\" --minimized\nIcon=corolla\nX-GNOME-Autostart-enabled=true\n")
            .arg(executable);
    if (!file.open(QIODevice::WriteOnly) || file.write(entry.toUtf8()) < 0 || !file.commit()) {
        *error = file.errorString();
        return false;
    }
    return true;
#endif
}

bool isStartAtLoginEnabled()
{
#ifdef Q_OS_WIN
    return QSettings(kRunKey, QSettings::NativeFormat).contains(QStringLiteral("Corolla"));
#else
    return QFile::exists(desktopEntryPath());
#endif
}

} // namespace corolla
