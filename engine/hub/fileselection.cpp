#include "hub/fileselection.h"

#include <algorithm>
#include <regex>

#include <nlohmann/json.hpp>

#include <QRegularExpression>

namespace corolla {

namespace {

const QString kIndexFile = QStringLiteral("model.safetensors.index.json");
const QString kSingleFile = QStringLiteral("model.safetensors");

QString globToRegex(const QString &glob)
{
    QString pattern = QStringLiteral("^");
    for (qsizetype i = 0; i < glob.size(); ++i) {
        const QChar c = glob[i];
        if (c == QLatin1Char('*')) {
            pattern += QStringLiteral(".*");
        } else if (c == QLatin1Char('?')) {
            pattern += QLatin1Char('.');
        } else if (c == QLatin1Char('[')) {
            const qsizetype close = glob.indexOf(QLatin1Char(']'), i + 2);
            if (close < 0) {
                pattern += QStringLiteral("\\[");
                continue;
            }
            QString set = glob.mid(i + 1, close - i - 1);
            if (set.startsWith(QLatin1Char('!')))
                set[0] = QLatin1Char('^');
            set.replace(QLatin1Char('\\'), QStringLiteral("\\\\"));
            pattern += QLatin1Char('[') + set + QLatin1Char(']');
            i = close;
        } else {
            pattern += QRegularExpression::escape(QString(c));
        }
    }
    return pattern + QLatin1Char('$');
}

} // namespace

std::string FileSelection::describe() const
{
    if (!includes.isEmpty())
        return "files matching " + includes.join(QStringLiteral(", ")).toStdString();
    if (!weights)
        return "config and tokenizer";
    std::string text = "config, tokenizer";
    if (allWeights())
        return text + " and all weights";
    if (blocks)
        text += ", blocks " + std::to_string(blocks->first) + ":" + std::to_string(blocks->second);
    if (clientPart)
        text += ", embeddings and LM head";
    return text;
}

bool matchesGlob(const QString &name, const QString &glob)
{
    const QRegularExpression regex(globToRegex(glob),
                                   QRegularExpression::DotMatchesEverythingOption);
    return regex.isValid() && regex.match(name).hasMatch();
}

bool isMetadataFile(const QString &name)
{
    if (name.contains(QLatin1Char('/')))
        return false;
    return name.endsWith(QLatin1String(".json")) || name.endsWith(QLatin1String(".txt"))
           || name.endsWith(QLatin1String(".jinja")) || name == QLatin1String("tokenizer.model");
}

bool isWeightFile(const QString &name)
{
    return !name.contains(QLatin1Char('/')) && name.endsWith(QLatin1String(".safetensors"));
}

bool isSafeRepoPath(const QString &path)
{
    if (path.isEmpty() || path.startsWith(QLatin1Char('/')) || path.contains(QLatin1Char('\\'))
        || path.contains(QLatin1Char(':')) || path.contains(QChar(0)))
        return false;
    const QStringList parts = path.split(QLatin1Char('/'));
    return std::none_of(parts.begin(), parts.end(), [](const QString &part) {
        return part.isEmpty() || part == QLatin1String(".") || part == QLatin1String("..");
    });
}

std::optional<std::int64_t> blockOfTensor(const std::string &name)
{
    static const std::regex pattern(R"((?:^|\.)(?:layers|h|blocks|block)\.(\d{1,6})\.)");
    std::smatch match;
    if (!std::regex_search(name, match, pattern))
        return std::nullopt;
    return std::stoll(match[1].str());
}

Result<std::set<QString>> weightFilesFor(const FileSelection &selection,
                                         const QStringList &repositoryFiles,
                                         const std::string &indexText)
{
    std::set<QString> files;
    if (!selection.weights)
        return files;
    if (indexText.empty()) {
        if (repositoryFiles.contains(kSingleFile))
            files.insert(kSingleFile);
        else
            for (const QString &name : repositoryFiles)
                if (isWeightFile(name))
                    files.insert(name);
        return files;
    }
    const auto index = nlohmann::json::parse(indexText, nullptr, false);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        return makeError(ErrorCode::Format, kIndexFile.toStdString() + ": no weight_map object");
    for (const auto &[tensor, file] : index["weight_map"].items()) {
        if (!file.is_string())
            return makeError(ErrorCode::Format, kIndexFile.toStdString() + ": tensor '" + tensor
                                                    + "' does not name a file");
        const QString name = QString::fromStdString(file.get<std::string>());
        if (!isWeightFile(name) || !repositoryFiles.contains(name))
            return makeError(ErrorCode::Format, kIndexFile.toStdString() + ": tensor '" + tensor
                                                    + "' lies in '" + name.toStdString()
                                                    + "', which the repository does not hold");
        const std::optional<std::int64_t> block = blockOfTensor(tensor);
        const bool needed = selection.allWeights()
                            || (block && selection.blocks && *block >= selection.blocks->first
                                && *block < selection.blocks->second)
                            || (!block && selection.clientPart);
        if (needed)
            files.insert(name);
    }
    return files;
}

} // namespace corolla
