// Tokenizers against golden outputs of the Hugging Face reference (tests/data/tokenizers):
// ids with and without special tokens, decoding, and streaming decoding; malformed input.

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <QtTest>

#include "tokenizer/chattemplate.h"
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

            auto ours = (*tokenizer)->encode(text, SpecialTokens::Omit);
            auto oursSpecial = (*tokenizer)->encode(text, SpecialTokens::Include);
            auto oursDecoded = (*tokenizer)->decode(ids, SpecialTokens::Include);
            QVERIFY(ours.ok() && oursSpecial.ok() && oursDecoded.ok());
            std::string streamed;
            IncrementalDecoder stream(**tokenizer, SpecialTokens::Include);
            for (std::int64_t id : ids)
                streamed += *stream.push(id);
            streamed += *stream.finish();

            const bool match = *ours == ids && *oursSpecial == withSpecial
                               && *oursDecoded == decoded && streamed == decoded;
            if (!match) {
                ++failures;
                qWarning().noquote() << "text:" << QString::fromStdString(text) << "\n expected"
                                     << show(ids) << "\n got     " << show(*ours) << "\n decoded"
                                     << QString::fromStdString(*oursDecoded) << "\n streamed"
                                     << QString::fromStdString(streamed);
            }
        }
        QCOMPARE(failures, 0);
    }

    void chatTemplates()
    {
        const std::string dir = kData + "byte-bpe-151k";
        auto tokenizer = Tokenizer::load(dir);
        QVERIFY(tokenizer.ok());
        auto chat = ChatTemplate::parse((*tokenizer)->chatTemplate());
        QVERIFY2(chat.ok(), chat.ok() ? "" : chat.error().message.c_str());
        QVERIFY(!chat->isFallback());
        const Json golden = readJson(dir + "/chat_golden.json");
        QVERIFY(golden["cases"].size() >= 4);
        for (const Json &entry : golden["cases"]) {
            const nlohmann::ordered_json messages =
                nlohmann::ordered_json::parse(entry["messages"].dump());
            auto text = chat->render(messages, entry["add_generation_prompt"].get<bool>());
            QVERIFY2(text.ok(), text.ok() ? "" : text.error().message.c_str());
            QCOMPARE(QString::fromStdString(*text),
                     QString::fromStdString(entry["text"].get<std::string>()));
        }
    }

    void templateLanguage_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("expected");
        QTest::newRow("trim and lstrip blocks") << "{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}"
                                                << "  1\n  2\n";
        QTest::newRow("whitespace control") << "a  {%- if true -%}  b  {%- endif %}"
                                            << "ab";
        QTest::newRow("loop variables") << "{% for x in 'abc' %}{{ loop.index0 }}{{ x }}{% if not "
                                           "loop.last %},{% endif %}{% endfor %}"
                                        << "0a,1b,2c";
        QTest::newRow("namespace") << "{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set "
                                      "ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"
                                   << "6";
        QTest::newRow("slices") << "{{ [1, 2, 3][::-1] }} {{ 'hello'[1:3] }} {{ [1, 2, 3][-1] }}"
                                << "[3, 2, 1] el 3";
        QTest::newRow("filters") << "{{ ' Hi '|trim|upper }} {{ [3, 1]|length }} {{ {'a': [1, "
                                    "'x']}|tojson }} {{ none|default('d') }} {{ x|default('u') }}"
                                 << "HI 2 {\"a\": [1, \"x\"]} None u";
        QTest::newRow("tests")
            << "{{ 4 is even }} {{ x is defined }} {{ 'a' is string }} {{ 3 is divisibleby(3) }}"
            << "True False True True";
        QTest::newRow("string methods")
            << "{{ 'a,b'.split(',') }} {{ 'xhix'.strip('x') }} {{ 'abc'.startswith(('z', 'a')) }}"
            << "['a', 'b'] hi True";
        QTest::newRow("macro") << "{% macro greet(name, mark='!') %}hi {{ name }}{{ mark }}{% "
                                  "endmacro %}{{ greet('bo') }}{{ greet('al', mark='?') }}"
                               << "hi bo!hi al?";
        QTest::newRow("loop controls")
            << "{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% "
               "continue %}{% endif %}{{ i }}{% endfor %}"
            << "02";
        QTest::newRow("set block and conditional")
            << "{% set x %}in{% endset %}{{ x ~ ('y' if 1 > 2 else 'z') }}"
            << "inz";
        QTest::newRow("escapes and formatting") << "{{ '\\u2581x\\x41' }} {{ '%s=%d' % ('n', 3) }}"
                                                << "\u2581xA n=3";
        QTest::newRow("selectattr")
            << "{{ [{'r': 'a'}, {'r': 'b'}]|selectattr('r', 'equalto', 'b')|list|length }}"
            << "1";
    }

    void templateLanguage()
    {
        QFETCH(QString, source);
        QFETCH(QString, expected);
        auto chat = ChatTemplate::parse(source.toStdString());
        QVERIFY2(chat.ok(), chat.ok() ? "" : chat.error().message.c_str());
        auto text = chat->render(nlohmann::ordered_json::array(), false);
        QVERIFY2(text.ok(), text.ok() ? "" : text.error().message.c_str());
        QCOMPARE(QString::fromStdString(*text), expected);
    }

    void templateErrors()
    {
        auto unsupported = ChatTemplate::parse("{% include 'x' %}");
        QVERIFY(!unsupported.ok());
        QVERIFY(unsupported.error().message.find("include") != std::string::npos);
        QVERIFY(!ChatTemplate::parse("{% if x %}").ok());
        QVERIFY(!ChatTemplate::parse("{{ x ").ok());
        auto raised = ChatTemplate::parse("{{ raise_exception('roles must alternate') }}");
        QVERIFY(raised.ok());
        auto text = raised->render(nlohmann::ordered_json::array(), false);
        QVERIFY(!text.ok());
        QVERIFY(text.error().message.find("roles must alternate") != std::string::npos);
        auto fallback = ChatTemplate::parse("");
        QVERIFY(fallback.ok() && fallback->isFallback());
        auto rendered = fallback->render(
            nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])"), true);
        QCOMPARE(*rendered, std::string("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
    }

    void metaspacePrependSchemes()
    {
        // SentencePiece-style without a normalizer: Metaspace marks word starts with U+2581.
        // With "first", only the very start of the input gets one, not text after <s>.
        for (const char *scheme : {"first", "always"}) {
            Json json = {
                {"model",
                 {{"type", "BPE"},
                  {"byte_fallback", false},
                  {"vocab", {{"<s>", 0}, {"a", 1}, {"\u2581", 2}, {"\u2581a", 3}}},
                  {"merges", Json::array({"\u2581 a"})}}},
                {"added_tokens", Json::array({{{"id", 0}, {"content", "<s>"}, {"special", true}}})},
                {"pre_tokenizer",
                 {{"type", "Metaspace"},
                  {"replacement", "\u2581"},
                  {"prepend_scheme", scheme},
                  {"split", false}}},
                {"decoder",
                 {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}}}};
            auto tokenizer = Tokenizer::fromJson(json.dump());
            QVERIFY2(tokenizer.ok(), tokenizer.ok() ? "" : tokenizer.error().message.c_str());
            QCOMPARE(*(*tokenizer)->encode("a", SpecialTokens::Omit),
                     (std::vector<std::int64_t>{3}));
            const std::vector<std::int64_t> afterSpecial = std::string(scheme) == "first"
                                                               ? std::vector<std::int64_t>{0, 1}
                                                               : std::vector<std::int64_t>{0, 3};
            QCOMPARE(*(*tokenizer)->encode("<s>a", SpecialTokens::Omit), afterSpecial);
            QCOMPARE(*(*tokenizer)->decode({3, 3}, SpecialTokens::Include), std::string("a a"));
        }
    }

    void normalizedAddedTokensMatchAfterNormalization()
    {
        // A lowercasing normalizer: the normalized token <X> is found in "a<x>" only after
        // normalization; the raw token [RAW] must match the raw text.
        Json json = {
            {"model",
             {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", Json::array()}}},
            {"normalizer", {{"type", "Lowercase"}}},
            {"added_tokens",
             Json::array(
                 {{{"id", 5}, {"content", "<x>"}, {"special", false}, {"normalized", true}},
                  {{"id", 6}, {"content", "[RAW]"}, {"special", true}, {"normalized", false}}})}};
        auto tokenizer = Tokenizer::fromJson(json.dump());
        QVERIFY(tokenizer.ok());
        QCOMPARE(*(*tokenizer)->encode("A<X>b[RAW]a", SpecialTokens::Omit),
                 (std::vector<std::int64_t>{0, 5, 1, 6, 0}));
        // Not the raw token: its letters go to the model (unknown ones are dropped, no unk).
        QCOMPARE(*(*tokenizer)->encode("a[raw]", SpecialTokens::Omit),
                 (std::vector<std::int64_t>{0, 0}));
    }

    void malformedInput()
    {
        auto tokenizer = Tokenizer::load(kData + "sp-bpe-32k");
        QVERIFY(tokenizer.ok());
        auto invalid = (*tokenizer)->encode("bad \xC3\x28 byte", SpecialTokens::Omit);
        QVERIFY(!invalid.ok());
        QVERIFY(invalid.error().message.find("UTF-8") != std::string::npos);
        QVERIFY(!(*tokenizer)->decode({999999}, SpecialTokens::Include).ok());

        QVERIFY(!Tokenizer::fromJson("{").ok());
        QVERIFY(!Tokenizer::fromJson(R"({"added_tokens": []})").ok());
        auto unknown = Tokenizer::fromJson(R"({"model": {"type": "WordLevel", "vocab": {}}})");
        QVERIFY(!unknown.ok());
        QVERIFY(unknown.error().message.find("WordLevel") != std::string::npos);
        auto badMerge = Tokenizer::fromJson(
            R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
        QVERIFY(!badMerge.ok());
        QVERIFY(badMerge.error().message.find("a b") != std::string::npos);
        auto badUtf8 =
            Tokenizer::fromJson("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xFF\": 0}}}");
        QVERIFY(!badUtf8.ok());
        Json split = {
            {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
        Json broken = {{"model", {{"type", "BPE"}, {"vocab", Json::object()}}},
                       {"pre_tokenizer", split}};
        auto badRegex = Tokenizer::fromJson(broken.dump());
        QVERIFY(!badRegex.ok());
        QVERIFY(badRegex.error().message.find("unclosed") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "testtokenizer.moc"
