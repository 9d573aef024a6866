// The corolla binary's headless commands, run as a user would: real processes, real files.

#include <ATen/TensorOperators.h>
#include <ATen/ops/allclose.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "loader/npyfile.h"
#include "model/generation.h"
#include "model/localmodel.h"

using namespace corolla;

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

// Without a display: the headless modes must not need one.
Run runCorolla(const QStringList &arguments)
{
    QProcess process;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (const char *name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
        environment.remove(QLatin1String(name));
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(COROLLA_BINARY), arguments);
    process.waitForFinished(-1);
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            QString::fromUtf8(process.readAllStandardOutput()),
            QString::fromUtf8(process.readAllStandardError())};
}

} // namespace

class TestCommandLine : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString path(const QString &name) const { return m_dir.filePath(name); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        for (const char *family : {"llama", "bloom"}) {
            const Run made = runCorolla({"make-test-model", "--family", family, "--out",
                                         path(QString::fromLatin1(family)), "--shards", "2"});
            QVERIFY2(made.exitCode == 0, qPrintable(made.err));
        }
        QVERIFY(QFile::exists(path("llama/model.safetensors.index.json")));
        QVERIFY(QFile::exists(path("llama/tokenizer.json")));
        QVERIFY(QFile::exists(path("bloom/tokenizer_config.json")));
    }

    void helpNamesTheCommandAndItsDefaults()
    {
        const Run run = runCorolla({"serve", "--help"});
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.startsWith(QStringLiteral("Usage: corolla serve [options]\n")),
                 qPrintable(run.out));
        QVERIFY(run.out.contains(QStringLiteral("(default: 16384)"))); // --cache-tokens
        const Run api = runCorolla({"api", "--help"});
        QVERIFY(api.out.startsWith(QStringLiteral("Usage: corolla api [options]\n")));
        QVERIFY(api.out.contains(QStringLiteral("(default: 8080)")));
    }

    void versionSaysWhatItIsAndWhereItComputes()
    {
        qputenv("COROLLA_NUM_THREADS", "3");
        const Run run = runCorolla({"--version"});
        qunsetenv("COROLLA_NUM_THREADS");
        QCOMPARE(run.exitCode, 0);
        const QStringList lines = run.out.trimmed().split(QLatin1Char('\n'));
        QCOMPARE(lines.size(), 6);
        QCOMPARE(lines[0], QStringLiteral("corolla " COROLLA_VERSION));
        // a commit with its date in a git checkout, "unknown" in a tree without history
        QVERIFY2(QRegularExpression(
                     QStringLiteral(
                         "^source: ([0-9a-f]{7,40}(-dirty)? \\(\\d{4}-\\d\\d-\\d\\d\\)|unknown)$"))
                     .match(lines[1])
                     .hasMatch(),
                 qPrintable(lines[1]));
        QVERIFY2(QRegularExpression(QStringLiteral("^libtorch: \\d+\\.\\d+\\.\\d+"))
                     .match(lines[2])
                     .hasMatch(),
                 qPrintable(lines[2]));
        QVERIFY2(lines[3].startsWith(QStringLiteral("Qt: 6.")), qPrintable(lines[3]));
        QVERIFY2(lines[4].startsWith(QStringLiteral("devices: cpu (3 threads, ")),
                 qPrintable(lines[4]));
        QVERIFY2(lines[5].startsWith(QStringLiteral("         cuda: ")), qPrintable(lines[5]));
    }

#ifdef COROLLA_MANPAGE
    // corolla(1) is written from the help at build time: every command and option is in it.
    void manualPageCoversEveryCommandAndOption()
    {
        QFile file(QStringLiteral(COROLLA_MANPAGE));
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.errorString()));
        const QString page = QString::fromUtf8(file.readAll());
        const auto roff = [](QString text) { return text.replace(QLatin1Char('-'), "\\-"); };
        const Run overview = runCorolla({"--help"});
        const QRegularExpression commandLine(QStringLiteral("^  ([a-z-]+)  "),
                                             QRegularExpression::MultilineOption);
        int commands = 0;
        for (const auto &match : commandLine.globalMatch(overview.out)) {
            QStringList command{match.captured(1)};
            if (command[0] == QLatin1String("bench"))
                command << QStringLiteral("api"); // one of the benchmarks
            ++commands;
            QVERIFY2(page.contains(QStringLiteral(".SS corolla ") + roff(command.join(' '))),
                     qPrintable(command.join(' ')));
            const Run help = runCorolla(command + QStringList{"--help"});
            const QRegularExpression optionLine(QStringLiteral("^  (--[a-z-]+)"),
                                                QRegularExpression::MultilineOption);
            for (const auto &option : optionLine.globalMatch(help.out)) {
                if (option.captured(1).startsWith(QLatin1String("--help")))
                    continue;
                QVERIFY2(page.contains(QStringLiteral("\\fB") + roff(option.captured(1))),
                         qPrintable(command.join(' ') + ' ' + option.captured(1)));
            }
        }
        QVERIFY(commands >= 13);
    }
#endif

    void logitsWritesEveryPosition()
    {
        for (const char *family : {"llama", "bloom"}) {
            const QString model = path(QString::fromLatin1(family));
            const QString out = path(QString::fromLatin1(family) + ".npy");
            const Run run =
                runCorolla({"logits", "--model", model, "--ids", "1,5,9,200", "--out", out});
            QVERIFY2(run.exitCode == 0, qPrintable(run.err));
            auto written = readNpy(out.toStdString());
            QVERIFY(written.ok());
            QCOMPARE(written->sizes().vec(), (std::vector<std::int64_t>{4, 512}));
            auto local = LocalModel::open(model.toStdString(), at::kFloat);
            QVERIFY(local.ok());
            auto expected = (*local)->logits({1, 5, 9, 200});
            QVERIFY(expected.ok());
            QVERIFY(at::allclose(*written, *expected, 0, 0));
        }
    }

    // --intermediates writes every block's named steps; the last block's "out" is what the
    // head turns into the logits.
    void logitsWritesIntermediates()
    {
        const QString model = path(QStringLiteral("llama"));
        const QString folder = path(QStringLiteral("intermediates"));
        const Run run =
            runCorolla({"logits", "--model", model, "--ids", "1,5,9", "--out",
                        path(QStringLiteral("with-intermediates.npy")), "--intermediates", folder});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        auto local = LocalModel::open(model.toStdString(), at::kFloat);
        QVERIFY(local.ok());
        const std::int64_t blocks = (*local)->config().numLayers,
                           hidden = (*local)->config().hiddenSize;
        const QStringList files = QDir(folder).entryList({QStringLiteral("*.npy")});
        QCOMPARE(files.size(), int(blocks) * 9);
        auto out = readNpy(
            QDir(folder).filePath(QStringLiteral("block%1.out.npy").arg(blocks - 1)).toStdString());
        QVERIFY(out.ok());
        QCOMPARE(out->sizes().vec(), (std::vector<std::int64_t>{1, 3, hidden}));
        auto logits = readNpy(path(QStringLiteral("with-intermediates.npy")).toStdString());
        QVERIFY(logits.ok());
        QVERIFY(at::allclose((*local)->head().logits(*out)[0], *logits, 1e-5, 1e-5));

        // A folder that cannot be made is a clear error.
        const Run blocked = runCorolla({"logits", "--model", model, "--ids", "1", "--out",
                                        path(QStringLiteral("x.npy")), "--intermediates",
                                        path(QStringLiteral("llama/config.json/sub"))});
        QCOMPARE(blocked.exitCode, 1);
        QVERIFY2(blocked.err.contains(QLatin1String("cannot create the folder")),
                 qPrintable(blocked.err));
    }

    void generateStreamsTheSameTokensAsTheEngine()
    {
        const QString model = path("llama");
        const Run run = runCorolla(
            {"generate", "--model", model, "--ids", "1,70,71,72", "--max-new-tokens", "12"});
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY(run.err.contains(QLatin1String("tokens/s")));

        auto local = LocalModel::open(model.toStdString(), at::kFloat);
        QVERIFY(local.ok());
        GenerationOptions options;
        options.maxNewTokens = 12;
        options.stopTokenIds = (*local)->config().eosTokenIds;
        QStringList expected;
        auto stats = generate(**local, {1, 70, 71, 72}, options, [&](std::int64_t token) {
            expected << QString::number(token);
            return true;
        });
        QVERIFY(stats.ok());
        QCOMPARE(run.out.trimmed(), expected.join(QLatin1Char(' ')));
    }

    void samplingIsReproducibleWithASeed()
    {
        const QStringList arguments = {"generate", "--model",          path("llama"), "--ids",
                                       "1,2,3",    "--temperature",    "1.5",         "--top-k",
                                       "50",       "--top-p",          "0.95",        "--seed",
                                       "42",       "--max-new-tokens", "10"};
        const Run first = runCorolla(arguments);
        const Run second = runCorolla(arguments);
        QVERIFY2(first.exitCode == 0, qPrintable(first.err));
        QCOMPARE(first.out, second.out);
        QStringList other = arguments;
        other[other.indexOf(QStringLiteral("42"))] = QStringLiteral("43");
        QVERIFY(runCorolla(other).out != first.out);
    }

    void badArgumentsGetClearErrors_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        QTest::newRow("app without a display")
            << QStringList{} << 2 << "no display to open the window on";
        QTest::newRow("unknown command") << QStringList{"fly"} << 2 << "unknown command 'fly'";
        QTest::newRow("missing model")
            << QStringList{"logits", "--ids", "1", "--out", "x.npy"} << 2 << "--model is required";
        QTest::newRow("bad ids") << QStringList{"generate", "--model", "m", "--ids", "1,x"} << 2
                                 << "'x' is not a token id";
        QTest::newRow("no text") << QStringList{"tokenize", "--model", "m"} << 2
                                 << "exactly one of";
        QTest::newRow("both prompts")
            << QStringList{"generate", "--model", "m", "--ids", "1", "--prompt", "hi"} << 2
            << "exactly one of";
        QTest::newRow("bad number")
            << QStringList{"generate", "--model", "m", "--ids", "1", "--top-p", "2"} << 2
            << "--top-p must be a number in [0, 1]";
        QTest::newRow("unknown option")
            << QStringList{"logits", "--colour", "red"} << 2 << "colour";
        QTest::newRow("no folder")
            << QStringList{"logits", "--model", "/nonexistent/m", "--ids", "1", "--out", "x.npy"}
            << 1 << "/nonexistent/m";
        QTest::newRow("bad dtype")
            << QStringList{"make-test-model", "--family", "llama", "--out", "x", "--dtype", "fp16"}
            << 1 << "unknown dtype 'fp16'";
        QTest::newRow("bad serve dtype") << QStringList{"serve", "--model", "m", "--dtype", "int4"}
                                         << 2 << "unknown dtype 'int4' (choose fp32 or bf16)";
        QTest::newRow("bad family")
            << QStringList{"make-test-model", "--family", "gpt", "--out", "x"} << 1
            << "unknown family 'gpt'";
        QTest::newRow("bad shape")
            << QStringList{"make-test-model", "--family",      "bloom", "--out", "x",
                           "--shape",         "tinyllama-1.1b"}
            << 1 << "is a llama shape";
        QTest::newRow("bad device")
            << QStringList{"generate", "--model", "m", "--ids", "1", "--device", "gpu"} << 2
            << "unknown device 'gpu' (choose cpu, auto, cuda or cuda:N)";
        QTest::newRow("bad backend") << QStringList{"serve", "--model", "m", "--backend", "fast"}
                                     << 2 << "unknown backend 'fast' (choose native or generic)";
        // Whatever this machine has, an eighth GPU is not there: a CPU libtorch, no GPU or
        // fewer GPUs each get their own sentence, all naming the device.
        QTest::newRow("missing GPU")
            << QStringList{"logits", "--model", "/nonexistent/m", "--ids", "1",
                           "--out",  "x.npy",   "--device",       "cuda:7"}
            << 1 << "cuda:7: ";
        QTest::newRow("bad bench") << QStringList{"bench", "remote"} << 1 << "bench local";
        QTest::newRow("bench blocks of a folder")
            << QStringList{"bench", "local", "--model", "m", "--blocks", "2"} << 2
            << "--blocks measures part of a --shape";
        QTest::newRow("bench too many blocks")
            << QStringList{"bench", "local", "--shape", "tiny", "--blocks", "9"} << 1
            << "--blocks 9: the shape has 4 blocks";
    }

    void badArgumentsGetClearErrors()
    {
        QFETCH(QStringList, arguments);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        const Run run = runCorolla(arguments);
        QCOMPARE(run.exitCode, exitCode);
        QVERIFY2(run.err.contains(message), qPrintable(run.err));
    }

    void tokenizerCommands()
    {
        const QString sp = QStringLiteral(COROLLA_TEST_DATA "/tokenizers/sp-bpe-32k");
        const QString qwen = QStringLiteral(COROLLA_TEST_DATA "/tokenizers/byte-bpe-151k");
        QCOMPARE(runCorolla({"tokenize", "--model", sp, "--text", "Hello world"}).out.trimmed(),
                 QStringLiteral("[22557,1526]"));
        QCOMPARE(runCorolla({"tokenize", "--model", sp, "--text", "Hello world", "--special"})
                     .out.trimmed(),
                 QStringLiteral("[1,22557,1526]"));
        QFile texts(path("texts.json"));
        QVERIFY(texts.open(QIODevice::WriteOnly));
        texts.write(R"(["Hello world", "<|im_start|>user\nhi<|im_end|>"])");
        texts.close();
        QCOMPARE(
            runCorolla({"tokenize", "--model", qwen, "--texts", path("texts.json")}).out.trimmed(),
            QStringLiteral("[[9707,1879],[151644,872,198,6023,151645]]"));
        QCOMPARE(
            runCorolla({"detokenize", "--model", sp, "--ids", "1,22557,1526", "--skip-special"})
                .out,
            QStringLiteral("Hello world\n"));

        QFile messages(path("messages.json"));
        QVERIFY(messages.open(QIODevice::WriteOnly));
        messages.write(R"([{"role": "user", "content": "Hello!"}])");
        messages.close();
        const Run chat = runCorolla({"chat-template", "--model", qwen, "--messages",
                                     path("messages.json"), "--add-generation-prompt"});
        QVERIFY2(chat.exitCode == 0, qPrintable(chat.err));
        QCOMPARE(chat.out,
                 QStringLiteral("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"));
        QCOMPARE(runCorolla({"tokenize", "--model", path("nowhere"), "--text", "x"}).exitCode, 1);
    }

    void generateFromTextEqualsGenerateFromIds()
    {
        const QString model = path("llama");
        const QString ids =
            runCorolla({"tokenize", "--model", model, "--text", "Hello, swarm", "--special"})
                .out.trimmed()
                .remove(QLatin1Char('['))
                .remove(QLatin1Char(']'));
        QVERIFY(!ids.isEmpty());
        const Run fromIds =
            runCorolla({"generate", "--model", model, "--ids", ids, "--max-new-tokens", "24"});
        const Run fromText = runCorolla(
            {"generate", "--model", model, "--prompt", "Hello, swarm", "--max-new-tokens", "24"});
        QVERIFY2(fromIds.exitCode == 0 && fromText.exitCode == 0, qPrintable(fromText.err));
        const QString generated = fromIds.out.trimmed().replace(QLatin1Char(' '), QLatin1Char(','));
        const Run decoded =
            runCorolla({"detokenize", "--model", model, "--ids", generated, "--skip-special"});
        QCOMPARE(fromText.out, decoded.out);
    }

    void stopSequenceEndsTheAnswerBeforeIt()
    {
        const QString model = path("llama");
        QProcess full;
        full.start(QStringLiteral(COROLLA_BINARY),
                   {"generate", "--model", model, "--prompt", "Hello", "--max-new-tokens", "64"});
        QVERIFY(full.waitForFinished(-1));
        const QByteArray answer = full.readAllStandardOutput();
        // A printable character a few bytes in (the test model's answers are random bytes).
        int at = 3;
        while (at < answer.size() && !(answer[at] > ' ' && answer[at] < 0x7f))
            ++at;
        QVERIFY(at < answer.size() - 1);
        const QByteArray stop = answer.mid(at, 1);
        QProcess stopped;
        stopped.start(QStringLiteral(COROLLA_BINARY),
                      {"generate", "--model", model, "--prompt", "Hello", "--max-new-tokens", "64",
                       "--stop", QString::fromLatin1(stop)});
        QVERIFY(stopped.waitForFinished(-1));
        QCOMPARE(stopped.readAllStandardOutput(), answer.left(answer.indexOf(stop)) + "\n");
        const Run withIds =
            runCorolla({"generate", "--model", model, "--ids", "1,2", "--stop", "x"});
        QCOMPARE(withIds.exitCode, 2);
        QVERIFY(withIds.err.contains(QLatin1String("--stop applies to text")));
    }

    void outOfVocabularyIdsAndBrokenConfigs()
    {
        const Run outside = runCorolla(
            {"logits", "--model", path("llama"), "--ids", "1,512", "--out", path("o.npy")});
        QCOMPARE(outside.exitCode, 1);
        QVERIFY2(outside.err.contains(QLatin1String("outside the vocabulary")),
                 qPrintable(outside.err));

        QDir().mkpath(path("broken"));
        QFile::copy(path("llama/model.safetensors.index.json"),
                    path("broken/model.safetensors.index.json"));
        QFile config(path("broken/config.json"));
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write("{\"model_type\": \"llama\", \"hidden_size\": 64");
        config.close();
        const Run broken = runCorolla({"generate", "--model", path("broken"), "--ids", "1"});
        QCOMPARE(broken.exitCode, 1);
        QVERIFY2(broken.err.contains(QLatin1String("config.json")), qPrintable(broken.err));
    }
};

QTEST_GUILESS_MAIN(TestCommandLine)
#include "testcommandline.moc"
