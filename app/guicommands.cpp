// The desktop app, and `corolla screenshots`, which renders its screens with the local demo
// swarm running (offscreen, so it also works on a machine without a display).

#include "app/guicommands.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <QApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QTemporaryDir>
#include <QTranslator>

#include "app/commandparser.h"
#include "app/swarmoptions.h"
#include "facade/engine.h"
#include "ui/chatpage.h"
#include "ui/donationcontroller.h"
#include "ui/mainwindow.h"
#include "ui/screenshots.h"
#include "ui/settings.h"
#include "ui/systemconditions.h"
#include "ui/traycontroller.h"
#include "ui/translation.h"

namespace corolla {

namespace {

bool hasDisplay()
{
#ifdef Q_OS_LINUX
    return std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY")
           || std::getenv("QT_QPA_PLATFORM");
#else
    return true;
#endif
}

// Runs the event loop until `done` holds or timeoutMs passes; whether it holds.
template <typename Condition> bool waitUntil(Condition done, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!done() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 100);
    return done();
}

bool demoIsReady(const EngineStatus &status)
{
    return status.demoSwarm && status.chatReady && status.numBlocks > 0
           && status.missingBlocks.isEmpty() && status.contribution.state == ServingState::Online;
}

void removeTranslators()
{
    for (QTranslator *translator : QCoreApplication::instance()->findChildren<QTranslator *>()) {
        QCoreApplication::removeTranslator(translator);
        delete translator;
    }
}

int runScreenshots(const QStringList &arguments)
{
    CommandParser parser(
        QStringLiteral("screenshots"),
        QStringLiteral("Renders every main screen of the app to PNG files, with the local demo "
                       "swarm running and this computer donating; offscreen, no display needed."));
    parser.addValueOptions({
        {"out", "DIR", "where the PNG files go", "docs/screenshots"},
        {"languages", "LIST", "languages to render, e.g. en,zh_CN", "en,zh_CN"},
        {"message", "TEXT", "what to ask in the chat", "Hello! Who are you?"},
    });
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;

    QTemporaryDir data;
    Settings settings(std::make_unique<QSettings>(data.filePath(QStringLiteral("settings.ini")),
                                                  QSettings::IniFormat));
    settings.closeToTray = false;
    settings.publicName = QStringLiteral("my-computer");
    Engine engine(data.path());
    QObject::connect(&engine, &Engine::log,
                     [](const QString &line) { std::fprintf(stderr, "%s\n", qPrintable(line)); });
    const QString out = parser.value(QStringLiteral("out"));
    QString error;
    bool first = true;
    for (const QString &language :
         parser.value(QStringLiteral("languages")).split(QLatin1Char(','))) {
        removeTranslators();
        installTranslations(language);
        MainWindow window(engine, settings, data.path(), std::make_unique<SystemConditions>());
        window.resize(1100, 760);
        window.show();
        if (first) {
            window.startDemoSwarm();
            window.donation()->setWanted(true);
            if (!waitUntil([&] { return demoIsReady(engine.status()); }, 180000)) {
                std::fprintf(stderr, "corolla screenshots: the demo swarm did not come online\n");
                return 1;
            }
            waitUntil([] { return false; }, 4000); // a baseline for the chart before the chat
            bool answered = false;
            QObject::connect(window.chatPage(), &ChatPage::answerFinished, &window,
                             [&] { answered = true; });
            window.chatPage()->send(parser.value(QStringLiteral("message")));
            waitUntil([&] { return answered; }, 120000);
            first = false;
        }
        waitUntil([] { return false; }, 8000); // status updates for the chart and counters
        const QString suffix =
            language == QLatin1String("en") ? QString() : QLatin1Char('-') + language;
        const QStringList written = grabScreens(window, out, suffix, &error);
        if (written.isEmpty()) {
            std::fprintf(stderr, "corolla screenshots: %s\n", qPrintable(error));
            return 1;
        }
        for (const QString &path : written)
            std::printf("%s\n", qPrintable(path));
    }
    return 0;
}

} // namespace

bool isDesktopInvocation(int argc, char **argv)
{
    return argc < 2 || std::strcmp(argv[1], "--minimized") == 0
           || std::strcmp(argv[1], "screenshots") == 0;
}

int runDesktop(int argc, char **argv)
{
    const bool screenshots = argc >= 2 && std::strcmp(argv[1], "screenshots") == 0;
    if (screenshots && !std::getenv("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    if (!screenshots && !hasDisplay()) {
        std::fprintf(
            stderr,
            "corolla: no display to open the window on (DISPLAY is not set).\n"
            "Run a headless command instead, e.g. 'corolla serve'; 'corolla --help' lists them.\n");
        return 2;
    }
    QApplication application(argc, argv);
    QApplication::setApplicationName(QStringLiteral("Corolla"));
    QApplication::setOrganizationName(QStringLiteral("Corolla"));
    QApplication::setApplicationVersion(QStringLiteral(COROLLA_VERSION));
    QApplication::setQuitOnLastWindowClosed(false); // the tray keeps running
    if (screenshots)
        return runScreenshots(QApplication::arguments().mid(1));

#ifdef Q_OS_WIN
    // An ini file in %APPDATA%\Corolla beside the app's data, not the registry: one folder
    // holds all of a user's Corolla data, and the uninstaller can offer to remove it.
    QSettings::setDefaultFormat(QSettings::IniFormat);
#endif
    Settings settings;
    installTranslations(settings.language);
    QDir().mkpath(dataFolder());
    Engine engine(dataFolder());
    MainWindow window(engine, settings, dataFolder(), std::make_unique<SystemConditions>());
    window.connectToSwarm();
    // A logout or `kill` ends the app as Quit does: servers announce that they leave.
    onTerminationSignal([] { QApplication::quit(); });
    const bool minimized =
        argc >= 2 && std::strcmp(argv[1], "--minimized") == 0 && settings.startMinimized;
    if (!minimized || !window.tray()->show())
        window.show();
    return QApplication::exec();
}

} // namespace corolla
