#include "ui/screenshots.h"

#include <QCoreApplication>
#include <QDir>
#include <QPixmap>

#include <QTableWidget>

#include "ui/mainwindow.h"
#include "ui/modelpicker.h"

namespace corolla {

QStringList grabScreens(MainWindow &window, const QString &folder, const QString &suffix,
                        QString *error)
{
    if (!QDir().mkpath(folder)) {
        *error = QStringLiteral("cannot create %1").arg(folder);
        return {};
    }
    const QList<std::pair<MainWindow::Tab, QString>> screens = {
        {MainWindow::ContributeTab, QStringLiteral("contribute")},
        {MainWindow::SwarmTab, QStringLiteral("swarm")},
        {MainWindow::ChatTab, QStringLiteral("chat")},
        {MainWindow::SettingsTab, QStringLiteral("settings")}};
    QStringList written;
    for (const auto &[tab, name] : screens) {
        window.showTab(tab);
        QCoreApplication::processEvents(); // lay the page out before it is drawn
        const QString path = QDir(folder).filePath(name + suffix + QStringLiteral(".png"));
        if (!window.grab().save(path)) {
            *error = QStringLiteral("cannot write %1").arg(path);
            return {};
        }
        written.push_back(path);
    }
    // The model picker, with a catalog entry chosen.
    ModelPicker *picker = window.modelPicker();
    picker->show();
    picker->table()->selectRow(0);
    QCoreApplication::processEvents();
    const QString pickerPath =
        QDir(folder).filePath(QStringLiteral("models") + suffix + QStringLiteral(".png"));
    if (!picker->grab().save(pickerPath)) {
        *error = QStringLiteral("cannot write %1").arg(pickerPath);
        return {};
    }
    picker->hide();
    written.push_back(pickerPath);
    return written;
}

} // namespace corolla
