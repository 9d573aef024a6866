#pragma once
// The user interface's language: the one chosen in the settings, or the system's. Loads
// Corolla's translations (built into the program) and Qt's own for standard dialogs.
// Thread: the GUI thread, before any window is made.

#include <QString>

namespace corolla {

// `language`: a locale name ("zh_CN"), or empty for the system's. Returns the locale used.
QString installTranslations(const QString &language);

} // namespace corolla
