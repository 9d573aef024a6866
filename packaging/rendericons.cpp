// corolla-icons: renders the app's SVG icon to the PNG sizes of the hicolor icon theme and to
// the Windows icon, for the packages (packaging/CMakeLists.txt). Built and run at build time,
// never installed.
// Usage: corolla-icons ICON.svg OUT_DIR SIZE...  writes OUT_DIR/SIZExSIZE/apps/corolla.png and
// OUT_DIR/corolla.ico (the largest size up to 256)

#include <cstdio>

#include <QDir>
#include <QGuiApplication>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>

int main(int argc, char **argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: corolla-icons ICON.svg OUT_DIR SIZE...\n");
        return 2;
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication application(argc, argv);
    QSvgRenderer renderer(QString::fromLocal8Bit(argv[1]));
    if (!renderer.isValid()) {
        std::fprintf(stderr, "corolla-icons: %s is not a valid SVG file\n", argv[1]);
        return 1;
    }
    const QDir out(QString::fromLocal8Bit(argv[2]));
    QImage windowsIcon;
    for (int index = 3; index < argc; ++index) {
        bool ok = false;
        const int size = QByteArray(argv[index]).toInt(&ok);
        if (!ok || size < 8 || size > 1024) {
            std::fprintf(stderr, "corolla-icons: '%s' is not an icon size (8 to 1024)\n",
                         argv[index]);
            return 2;
        }
        QImage image(size, size, QImage::Format_ARGB32_Premultiplied);
        image.fill(Qt::transparent);
        QPainter painter(&image);
        painter.setRenderHint(QPainter::Antialiasing);
        renderer.render(&painter);
        painter.end();
        if (size <= 256 && size > windowsIcon.width())
            windowsIcon = image;
        const QString folder = QStringLiteral("%1x%1/apps").arg(size);
        const QString path = out.filePath(folder + QStringLiteral("/corolla.png"));
        if (!out.mkpath(folder) || !image.save(path, "PNG")) {
            std::fprintf(stderr, "corolla-icons: cannot write %s\n", qPrintable(path));
            return 1;
        }
    }
    const QString ico = out.filePath(QStringLiteral("corolla.ico"));
    if (windowsIcon.isNull() || !windowsIcon.save(ico, "ICO")) {
        std::fprintf(stderr, "corolla-icons: cannot write %s\n", qPrintable(ico));
        return 1;
    }
    return 0;
}
