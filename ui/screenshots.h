#pragma once
// Renders every main screen of a running window to PNG files (contribute, swarm, chat,
// settings), for the documentation: `corolla screenshots`.
// Thread: the GUI thread.

#include <QString>
#include <QStringList>

namespace corolla {

class MainWindow;

// Writes "<folder>/<screen><suffix>.png" for each screen; the paths written, or an empty
// list with `error` set.
QStringList grabScreens(MainWindow &window, const QString &folder, const QString &suffix,
                        QString *error);

} // namespace corolla
