// The Simplified Chinese translation is complete: every message of the committed .ts is
// translated (nothing unfinished, the same placeholders), every string the sources hold is
// in it (lupdate run now over ui/ and the desktop commands), and the compiled catalogue
// answers in Chinese.

#include <map>
#include <set>

#include <QDir>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTranslator>
#include <QXmlStreamReader>
#include <QtTest>

namespace {

struct Message {
    QString context;
    QString source;
    QString translation; // numerus forms joined by '\n'
    QString type;        // "unfinished", "vanished", "obsolete" or empty
};

QList<Message> readTs(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = file.errorString();
        return {};
    }
    QList<Message> messages;
    QXmlStreamReader xml(&file);
    QString context;
    Message message;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement()) {
            const auto name = xml.name();
            if (name == QLatin1String("name"))
                context = xml.readElementText();
            else if (name == QLatin1String("message"))
                message = Message{context, {}, {}, {}};
            else if (name == QLatin1String("source"))
                message.source = xml.readElementText();
            else if (name == QLatin1String("translation")) {
                message.type = xml.attributes().value(QLatin1String("type")).toString();
                message.translation = xml.readElementText(QXmlStreamReader::IncludeChildElements);
            }
        } else if (xml.isEndElement() && xml.name() == QLatin1String("message")) {
            messages.push_back(message);
        }
    }
    if (xml.hasError())
        *error = xml.errorString();
    return messages;
}

std::set<QString> placeholders(const QString &text)
{
    static const QRegularExpression pattern(QStringLiteral("%(\\d|n)"));
    std::set<QString> found;
    for (const QRegularExpressionMatch &match : pattern.globalMatch(text))
        found.insert(match.captured(0));
    return found;
}

} // namespace

class TestTranslations : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyMessageIsTranslated();
    void everySourceStringIsInTheCatalogue();
    void theCompiledCatalogueAnswersInChinese();
};

void TestTranslations::everyMessageIsTranslated()
{
    QString error;
    const QList<Message> messages = readTs(QStringLiteral(COROLLA_TS_FILE), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(messages.size() > 100);
    for (const Message &message : messages) {
        const QString where = message.context + QStringLiteral(": ") + message.source;
        QVERIFY2(message.type.isEmpty(), qPrintable(where + QStringLiteral(" is ") + message.type));
        QVERIFY2(!message.translation.trimmed().isEmpty(),
                 qPrintable(where + QStringLiteral(" has no translation")));
        QVERIFY2(placeholders(message.source) == placeholders(message.translation),
                 qPrintable(where + QStringLiteral(" -> ") + message.translation
                            + QStringLiteral(": placeholders differ")));
    }
}

void TestTranslations::everySourceStringIsInTheCatalogue()
{
    QString error;
    std::set<std::pair<QString, QString>> committed;
    for (const Message &message : readTs(QStringLiteral(COROLLA_TS_FILE), &error))
        committed.insert({message.context, message.source});
    QVERIFY2(error.isEmpty(), qPrintable(error));

    QTemporaryDir folder;
    const QString fresh = folder.filePath(QStringLiteral("fresh_zh_CN.ts"));
    QStringList arguments;
    const QDir ui(QStringLiteral(COROLLA_SOURCE_DIR "/ui"));
    for (const QString &file :
         ui.entryList({QStringLiteral("*.cpp"), QStringLiteral("*.h")}, QDir::Files))
        arguments.push_back(ui.filePath(file));
    arguments << QStringLiteral(COROLLA_SOURCE_DIR "/app/guicommands.cpp") << QStringLiteral("-I")
              << QStringLiteral(COROLLA_SOURCE_DIR) << QStringLiteral("-I")
              << QStringLiteral(COROLLA_SOURCE_DIR "/engine") << QStringLiteral("-ts") << fresh;
    QProcess lupdate;
    lupdate.start(QStringLiteral(COROLLA_LUPDATE), arguments);
    QVERIFY(lupdate.waitForFinished(300000));
    QVERIFY2(lupdate.exitCode() == 0, lupdate.readAllStandardError().constData());
    const QList<Message> current = readTs(fresh, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(current.size() > 100);
    for (const Message &message : current) {
        QVERIFY2(committed.count({message.context, message.source}),
                 qPrintable(message.context + QStringLiteral(": \"") + message.source
                            + QStringLiteral("\" is not in translations/corolla_zh_CN.ts; run the "
                                             "update_translations target and translate it")));
    }
}

void TestTranslations::theCompiledCatalogueAnswersInChinese()
{
    QTemporaryDir folder;
    const QString qm = folder.filePath(QStringLiteral("corolla_zh_CN.qm"));
    QProcess lrelease;
    lrelease.start(QStringLiteral(COROLLA_LRELEASE),
                   {QStringLiteral(COROLLA_TS_FILE), QStringLiteral("-qm"), qm});
    QVERIFY(lrelease.waitForFinished(60000));
    QCOMPARE(lrelease.exitCode(), 0);
    QTranslator translator;
    QVERIFY(translator.load(qm));
    QCOMPARE(translator.translate("corolla::TrayController", "Quit"), QStringLiteral("退出"));
    QCOMPARE(translator.translate("corolla::ContributePage", "Donate my GPU"),
             QStringLiteral("捐献我的 GPU"));
    QCOMPARE(translator.translate("corolla::BlockMapModel", "Block %1: %n server(s), %2 tokens/s",
                                  nullptr, 3),
             QStringLiteral("第 %1 块：%n 台服务器，%2 词元/秒"));
}

QTEST_MAIN(TestTranslations)
#include "testtranslations.moc"
