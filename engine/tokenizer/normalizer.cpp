#include "tokenizer/normalizer.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/pipelinesteps.h"
#include <QString>

#include "tokenizer/regex.h"
#include "tokenizer/replacepattern.h"

namespace corolla {

namespace {

class UnicodeNormalizer : public Normalizer {
public:
    explicit UnicodeNormalizer(QString::NormalizationForm form)
        : m_form(form)
    {
    }
    std::string normalize(const std::string &text) const override
    {
        return QString::fromStdString(text).normalized(m_form).toStdString();
    }

private:
    QString::NormalizationForm m_form;
};

class Prepend : public Normalizer {
public:
    explicit Prepend(std::string prefix)
        : m_prefix(std::move(prefix))
    {
    }
    std::string normalize(const std::string &text) const override
    {
        return text.empty() ? text : m_prefix + text;
    }

private:
    std::string m_prefix;
};

class Replace : public Normalizer {
public:
    explicit Replace(ReplacePattern pattern)
        : m_pattern(std::move(pattern))
    {
    }
    std::string normalize(const std::string &text) const override { return m_pattern.apply(text); }

private:
    ReplacePattern m_pattern;
};

class Lowercase : public Normalizer {
public:
    std::string normalize(const std::string &text) const override
    {
        return QString::fromStdString(text).toLower().toStdString();
    }
};

class Strip : public Normalizer {
public:
    Strip(bool left, bool right)
        : m_left(left)
        , m_right(right)
    {
    }
    std::string normalize(const std::string &text) const override
    {
        QString value = QString::fromStdString(text);
        qsizetype begin = 0, end = value.size();
        while (m_left && begin < end && value.at(begin).isSpace())
            ++begin;
        while (m_right && end > begin && value.at(end - 1).isSpace())
            --end;
        return value.mid(begin, end - begin).toStdString();
    }

private:
    bool m_left, m_right;
};

class Sequence : public Normalizer {
public:
    explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps)
        : m_steps(std::move(steps))
    {
    }
    std::string normalize(const std::string &text) const override
    {
        std::string value = text;
        for (const auto &step : m_steps)
            value = step->normalize(value);
        return value;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> m_steps;
};

} // namespace

Result<std::unique_ptr<Normalizer>> Normalizer::fromJson(const nlohmann::json &json)
{
    if (json.is_null())
        return std::unique_ptr<Normalizer>();
    const std::string type = json.value("type", "");
    if (type == "NFC")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(QString::NormalizationForm_C));
    if (type == "NFKC")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(QString::NormalizationForm_KC));
    if (type == "NFD")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(QString::NormalizationForm_D));
    if (type == "NFKD")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(QString::NormalizationForm_KD));
    if (type == "Prepend")
        return std::unique_ptr<Normalizer>(new Prepend(json.value("prepend", "")));
    if (type == "Lowercase")
        return std::unique_ptr<Normalizer>(new Lowercase);
    if (type == "Strip")
        return std::unique_ptr<Normalizer>(
            new Strip(json.value("strip_left", true), json.value("strip_right", true)));
    if (type == "Replace") {
        auto pattern = ReplacePattern::fromJson(json);
        if (!pattern)
            return pattern.error();
        return std::unique_ptr<Normalizer>(new Replace(std::move(pattern).value()));
    }
    if (type == "Sequence") {
        auto steps = parsePipelineSteps<Normalizer>(json, "normalizers");
        if (!steps)
            return steps.error();
        return std::unique_ptr<Normalizer>(new Sequence(std::move(steps).value()));
    }
    return makeError(ErrorCode::Unsupported,
                     "tokenizer.json: normalizer type '" + type + "' is not supported");
}

} // namespace corolla
