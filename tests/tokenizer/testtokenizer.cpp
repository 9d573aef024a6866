// Tokenizers against golden outputs of the Hugging Face reference (tests/data/tokenizers):
// ids with and without special tokens, decoding, and streaming decoding; malformed input.

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <QtTest>

#include "tokenizer/incrementaldecoder.h"
#include "tokenizer/tokenizer.h"

using namespace corolla;
using Json = nlohmann::json;

namespace {

const std::string kData = COROLLA_TEST_DATA "/tokenizers/";

Json readJson(const std::string &path)
{
    std::ifstream stream(path);
    std::stringstream text;
    text << stream.rdbuf();
    return Json::parse(text.str());
}

QString show(const std::vector<std::int64_t> &ids)
{
    QStringList parts;
    for (std::int64_t id : ids)
        parts << QString::number(id);
    return parts.join(QLatin1Char(','));
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void golden_data()
    {
        QTest::addColumn<QString>("folder");
        QTest::newRow("sp-bpe-32k") << "sp-bpe-32k";
        QTest::newRow("byte-bpe-151k") << "byte-bpe-151k";
    }

    void golden()
    {
        QFETCH(QString, folder);
        const std::string dir = kData + folder.toStdString();
        auto tokenizer = Tokenizer::load(dir);
        QVERIFY2(tokenizer.ok(), tokenizer.ok() ? "" : tokenizer.error().message.c_str());
        const Json golden = readJson(dir + "/golden.json");
        QVERIFY(golden["cases"].size() >= 50);
        int failures = 0;
        for (const Json &entry : golden["cases"]) {
            const std::string text = entry["text"];
            const auto ids = entry["ids"].get<std::vector<std::int64_t>>();
            const auto withSpecial = entry["ids_with_special"].get<std::vector<std::int64_t>>();
            const std::string decoded = entry["decoded"];

            auto ours = (*tokenizer)->encode(text, false);
            auto oursSpecial = (*tokenizer)->encode(text, true);
            auto oursDecoded = (*tokenizer)->decode(ids, false);
            QVERIFY(ours.ok() && oursSpecial.ok() && oursDecoded.ok());
            std::string streamed;
            IncrementalDecoder stream(**tokenizer, false);
            for (std::int64_t id : ids)
                streamed += *stream.push(id);
            streamed += *stream.finish();

            const bool match = *ours == ids && *oursSpecial == withSpecial && *oursDecoded == decoded
                && streamed == decoded;
            if (!match) {
                ++failures;
                qWarning().noquote() << "text:" << QString::fromStdString(text) << "\n expected" << show(ids)
                                     << "\n got     " << show(*ours) << "\n decoded" << QString::fromStdString(*oursDecoded)
                                     << "\n streamed" << QString::fromStdString(streamed);
            }
        }
        QCOMPARE(failures, 0);
    }

    void malformedInput()
    {
        auto tokenizer = Tokenizer::load(kData + "sp-bpe-32k");
        QVERIFY(tokenizer.ok());
        auto invalid = (*tokenizer)->encode("bad \xC3\x28 byte", false);
        QVERIFY(!invalid.ok());
        QVERIFY(invalid.error().message.find("UTF-8") != std::string::npos);
        QVERIFY(!(*tokenizer)->decode({999999}, false).ok());

        QVERIFY(!Tokenizer::fromJson("{").ok());
        QVERIFY(!Tokenizer::fromJson(R"({"added_tokens": []})").ok());
        auto unknown = Tokenizer::fromJson(R"({"model": {"type": "WordLevel", "vocab": {}}})");
        QVERIFY(!unknown.ok());
        QVERIFY(unknown.error().message.find("WordLevel") != std::string::npos);
        auto badMerge = Tokenizer::fromJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
        QVERIFY(!badMerge.ok());
        QVERIFY(badMerge.error().message.find("a b") != std::string::npos);
        auto badUtf8 = Tokenizer::fromJson("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xFF\": 0}}}");
        QVERIFY(!badUtf8.ok());
        Json split = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
        Json broken = {{"model", {{"type", "BPE"}, {"vocab", Json::object()}}}, {"pre_tokenizer", split}};
        auto badRegex = Tokenizer::fromJson(broken.dump());
        QVERIFY(!badRegex.ok());
        QVERIFY(badRegex.error().message.find("unclosed") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "testtokenizer.moc"
