// tokenize, detokenize, chat-template and bench tokenizer: the tokenizer on the command line.

#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "app/commandparser.h"
#include "app/commands.h"
#include "app/modelsource.h"
#include "core/textfile.h"
#include "tokenizer/chattemplate.h"
#include "tokenizer/tokenizer.h"

namespace corolla {

namespace {

using Json = nlohmann::ordered_json;

Result<Json> readJsonFile(const std::string &path)
{
    auto text = readTextFile(path);
    if (!text)
        return text.error();
    Json json = Json::parse(*text, nullptr, false);
    if (json.is_discarded())
        return makeError(ErrorCode::Format, path + ": not valid JSON");
    return json;
}

// The tokenizer of a folder or of a Hub model (whose config and tokenizer are fetched).
auto loadTokenizer(const std::string &model) -> decltype(Tokenizer::load(model))
{
    auto folder = modelFolder(model, metadataOnly());
    if (!folder)
        return folder.error();
    return Tokenizer::load(*folder);
}

std::string idsJson(const std::vector<std::int64_t> &ids)
{
    return Json(ids).dump();
}

} // namespace

int runTokenize(const QStringList &arguments)
{
    CommandParser parser(
        QStringLiteral("tokenize"),
        QStringLiteral("Prints the token ids of a text as a JSON array (for --texts, "
                       "one array per text). DIR needs only the tokenizer files."));
    parser.addValueOptions({
        {"model", "DIR|ORG/NAME", "folder with tokenizer.json, or a Hub model"},
        {"text", "TEXT", "the text"},
        {"texts", "FILE.json", "a JSON array of strings"},
    });
    parser.addFlag(QStringLiteral("special"),
                   QStringLiteral("add the special tokens of the post-processor (BOS, ...)"));
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    parser.requireOneOf({QStringLiteral("text"), QStringLiteral("texts")});
    if (parser.failed())
        return 2;
    auto tokenizer = loadTokenizer(parser.text(QStringLiteral("model")));
    if (!tokenizer)
        return reportError("tokenize", tokenizer.error().toString());
    const SpecialTokens special =
        parser.isSet(QStringLiteral("special")) ? SpecialTokens::Include : SpecialTokens::Omit;
    if (parser.isSet(QStringLiteral("text"))) {
        // Command-line arguments reach us as UTF-8 through QString.
        auto ids =
            (*tokenizer)->encode(parser.value(QStringLiteral("text")).toStdString(), special);
        if (!ids)
            return reportError("tokenize", ids.error().toString());
        std::printf("%s\n", idsJson(*ids).c_str());
        return 0;
    }
    auto texts = readJsonFile(parser.text(QStringLiteral("texts")));
    if (!texts)
        return reportError("tokenize", texts.error().toString());
    if (!texts->is_array())
        return reportError("tokenize", "--texts must hold a JSON array of strings");
    Json out = Json::array();
    for (const Json &text : *texts) {
        if (!text.is_string())
            return reportError("tokenize", "--texts must hold a JSON array of strings");
        auto ids = (*tokenizer)->encode(text.get<std::string>(), special);
        if (!ids)
            return reportError("tokenize", ids.error().toString());
        out.push_back(*ids);
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
}

int runDetokenize(const QStringList &arguments)
{
    CommandParser parser(QStringLiteral("detokenize"),
                         QStringLiteral("Prints the text of token ids."));
    parser.addValueOptions({
        {"model", "DIR|ORG/NAME", "folder with tokenizer.json, or a Hub model"},
        {"ids", "LIST", "token ids, e.g. 1,2,3"},
    });
    parser.addFlag(QStringLiteral("skip-special"), QStringLiteral("leave out special tokens"));
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    parser.require(QStringLiteral("ids"));
    const auto ids = parser.idList(QStringLiteral("ids"));
    if (parser.failed())
        return 2;
    auto tokenizer = loadTokenizer(parser.text(QStringLiteral("model")));
    if (!tokenizer)
        return reportError("detokenize", tokenizer.error().toString());
    auto text =
        (*tokenizer)
            ->decode(ids, parser.isSet(QStringLiteral("skip-special")) ? SpecialTokens::Omit
                                                                       : SpecialTokens::Include);
    if (!text)
        return reportError("detokenize", text.error().toString());
    std::printf("%s\n", text->c_str());
    return 0;
}

int runChatTemplate(const QStringList &arguments)
{
    CommandParser parser(QStringLiteral("chat-template"),
                         QStringLiteral("Renders a conversation with the model's chat template "
                                        "(ChatML when the model has none) and prints the prompt."));
    parser.addValueOptions({
        {"model", "DIR|ORG/NAME", "folder with tokenizer_config.json, or a Hub model"},
        {"messages", "FILE.json", "a JSON array of {\"role\", \"content\"} objects"},
    });
    parser.addFlag(QStringLiteral("add-generation-prompt"),
                   QStringLiteral("end with the assistant's turn opening"));
    int exitCode = 0;
    if (!parser.parse(arguments, exitCode))
        return exitCode;
    parser.require(QStringLiteral("model"));
    parser.require(QStringLiteral("messages"));
    if (parser.failed())
        return 2;
    auto tokenizer = loadTokenizer(parser.text(QStringLiteral("model")));
    if (!tokenizer)
        return reportError("chat-template", tokenizer.error().toString());
    auto chat = ChatTemplate::parse((*tokenizer)->chatTemplate());
    if (!chat)
        return reportError("chat-template", chat.error().toString());
    auto messages = readJsonFile(parser.text(QStringLiteral("messages")));
    if (!messages)
        return reportError("chat-template", messages.error().toString());
    const Json variables = chatTemplateVariables(**tokenizer);
    auto text =
        chat->render(*messages, parser.isSet(QStringLiteral("add-generation-prompt")), variables);
    if (!text)
        return reportError("chat-template", text.error().toString());
    std::fwrite(text->data(), 1, text->size(), stdout);
    return 0;
}

namespace {

// Words of several scripts, code and numbers, drawn in a seeded random order so that the BPE
// cache sees realistic reuse rather than one repeated sentence.
// clang-format off
constexpr const char *kBenchWords[] = {
    "the", "swarm", "serves", "blocks", "of", "a", "model,", "and", "clients", "chain", "them",
    "into", "pipelines.", "模型", "推理", "速度", "提升", "こんにちは", "Привет", "мир",
    "for (int i = 0; i < n; ++i)", "{\"key\": [1, 2, 3]}", "3.14159", "2026-11-27", "🤗",
    "naïve", "résumé", "\n", "    return x;", "Hello!", "—", "don't"};
// clang-format on

// At least `bytes` of such text; with `numbered`, a number after every word.
std::string benchText(std::size_t bytes, unsigned seed, bool numbered)
{
    std::mt19937 random(seed);
    std::string text;
    while (text.size() < bytes) {
        text += kBenchWords[random() % std::size(kBenchWords)];
        if (numbered)
            text += std::to_string(random() % 1000) + " ";
        else
            text += random() % 5 == 0 ? "" : " ";
    }
    return text;
}

// What `corolla bench tokenizer` runs with.
struct TokenizerBenchCommand {
    std::string modelDir;
    std::int64_t megabytes = 0;
};

std::optional<TokenizerBenchCommand> parseTokenizerBench(const QStringList &arguments,
                                                         int &exitCode)
{
    CommandParser parser(
        QStringLiteral("bench tokenizer"),
        QStringLiteral("Encodes a few MB of mixed-script text and prints MB/s and the "
                       "time to encode a 4,000-token prompt as JSON."));
    parser.addValueOptions({
        {"model", "DIR|ORG/NAME", "folder with tokenizer.json, or a Hub model"},
        {"megabytes", "N", "text to encode", "4"},
    });
    if (!parser.parse(arguments.mid(1), exitCode))
        return std::nullopt;
    parser.require(QStringLiteral("model"));
    TokenizerBenchCommand command;
    command.modelDir = parser.text(QStringLiteral("model"));
    command.megabytes = parser.integer(QStringLiteral("megabytes"), 1, 1024);
    if (parser.failed()) {
        exitCode = 2;
        return std::nullopt;
    }
    return command;
}

int execute(const TokenizerBenchCommand &command)
{
    auto tokenizer = loadTokenizer(command.modelDir);
    if (!tokenizer)
        return reportError("bench tokenizer", tokenizer.error().toString());
    const std::string text = benchText(std::size_t(command.megabytes) << 20, 42, false);
    using Clock = std::chrono::steady_clock;
    auto start = Clock::now();
    auto ids = (*tokenizer)->encode(text, SpecialTokens::Omit);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!ids)
        return reportError("bench tokenizer", ids.error().toString());

    // A fresh 4,000-token prompt: cut from a different part of the same distribution.
    const double bytesPerToken = double(text.size()) / double(ids->size());
    const std::string prompt = benchText(std::size_t(4000 * bytesPerToken), 7, true);
    // A freshly loaded tokenizer, so that no cached piece helps: the first prompt of a chat.
    auto cold = Tokenizer::load(command.modelDir);
    if (!cold)
        return reportError("bench tokenizer", cold.error().toString());
    start = Clock::now();
    auto promptIds = (*cold)->encode(prompt, SpecialTokens::Include);
    const double promptSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!promptIds)
        return reportError("bench tokenizer", promptIds.error().toString());
    const Json report = {{"benchmark", "tokenizer"},
                         {"bytes", text.size()},
                         {"tokens", ids->size()},
                         {"megabytes_per_s", double(text.size()) / seconds / 1e6},
                         {"tokens_per_s", double(ids->size()) / seconds},
                         {"prompt_tokens", promptIds->size()},
                         {"prompt_encode_ms", promptSeconds * 1000.0}};
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
}

} // namespace

int runTokenizerBench(const QStringList &arguments)
{
    int exitCode = 0;
    const std::optional<TokenizerBenchCommand> command = parseTokenizerBench(arguments, exitCode);
    return command ? execute(*command) : exitCode;
}

} // namespace corolla
