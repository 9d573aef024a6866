#pragma once
// Starting the app when the user logs in: an XDG autostart entry on Linux, the Run key of
// the user's registry on Windows. The app then starts minimized to the tray if asked.
// Thread: the GUI thread.

#include <QString>

namespace corolla {

// Adds or removes the entry that starts `executable --minimized` at login; false with
// `error` set when it cannot be written.
bool setStartAtLogin(bool enabled, const QString &executable, QString *error);
bool isStartAtLoginEnabled();

} // namespace corolla
