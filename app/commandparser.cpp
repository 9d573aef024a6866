#include "app/commandparser.h"

#include <cmath>
#include <cstdio>

namespace corolla {

CommandParser::CommandParser(const QString &command, const QString &description)
    : m_command(command)
{
    m_parser.setApplicationDescription(description);
    m_parser.addHelpOption();
    m_parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
}

void CommandParser::addValueOption(const QString &name, const QString &valueName,
                                   const QString &help, const QString &defaultValue)
{
    // Qt's help text leaves defaults out: they are part of the option's description here.
    QCommandLineOption option(
        name,
        defaultValue.isEmpty() ? help : help + QStringLiteral(" (default: %1)").arg(defaultValue),
        valueName);
    if (!defaultValue.isEmpty())
        option.setDefaultValue(defaultValue);
    m_parser.addOption(option);
}

void CommandParser::addValueOptions(std::initializer_list<ValueOption> options)
{
    for (const ValueOption &option : options)
        addValueOption(QString::fromUtf8(option.name), QString::fromUtf8(option.valueName),
                       QString::fromUtf8(option.help), QString::fromUtf8(option.defaultValue));
}

void CommandParser::addFlag(const QString &name, const QString &help)
{
    m_parser.addOption(QCommandLineOption(name, help));
}

void CommandParser::addPositional(const QString &name, const QString &help)
{
    m_parser.addPositionalArgument(name, help);
    ++m_positionals;
}

bool CommandParser::parse(const QStringList &arguments, int &exitCode)
{
    QStringList withProgram = arguments;
    withProgram.front() = QStringLiteral("corolla ") + m_command;
    if (!m_parser.parse(withProgram)) {
        std::fprintf(stderr, "corolla %s: %s\nRun 'corolla %s --help' for the options.\n",
                     qPrintable(m_command), qPrintable(m_parser.errorText()),
                     qPrintable(m_command));
        exitCode = 2;
        return false;
    }
    if (m_parser.isSet("help")) {
        // Qt names the program by its path and not the command; the usage line says both.
        QString help = m_parser.helpText();
        const qsizetype options = help.indexOf(QLatin1String(" [options]"));
        if (help.startsWith(QLatin1String("Usage: ")) && options > 0)
            help.replace(7, options - 7, QStringLiteral("corolla ") + m_command);
        std::fputs(qPrintable(help), stdout);
        exitCode = 0;
        return false;
    }
    const QStringList positionals = m_parser.positionalArguments();
    if (positionals.size() > m_positionals) {
        std::fprintf(stderr, "corolla %s: unexpected argument '%s'\n", qPrintable(m_command),
                     qPrintable(positionals.value(m_positionals)));
        exitCode = 2;
        return false;
    }
    if (positionals.size() < m_positionals) {
        std::fprintf(stderr,
                     "corolla %s: missing argument\nRun 'corolla %s --help' for the "
                     "options.\n",
                     qPrintable(m_command), qPrintable(m_command));
        exitCode = 2;
        return false;
    }
    return true;
}

void CommandParser::error(const QString &message)
{
    if (m_error.isEmpty())
        m_error = message;
}

template <typename T>
T CommandParser::inRange(const QString &name, T value, bool parsed, T minimum, T maximum,
                         const char *noun)
{
    if (!parsed || value < minimum || value > maximum) {
        error(QStringLiteral("--%1 must be %2 in [%3, %4], not '%5'")
                  .arg(name, QLatin1String(noun))
                  .arg(minimum)
                  .arg(maximum)
                  .arg(this->value(name)));
        return minimum;
    }
    return value;
}

std::int64_t CommandParser::integer(const QString &name, std::int64_t minimum, std::int64_t maximum)
{
    bool ok = false;
    const std::int64_t value = this->value(name).toLongLong(&ok);
    return inRange(name, value, ok, minimum, maximum, "an integer");
}

double CommandParser::number(const QString &name, double minimum, double maximum)
{
    bool ok = false;
    const double value = this->value(name).toDouble(&ok);
    return inRange(name, value, ok && std::isfinite(value), minimum, maximum, "a number");
}

std::vector<std::int64_t> CommandParser::idList(const QString &name)
{
    std::vector<std::int64_t> ids;
    const QStringList parts = value(name).split(QLatin1Char(','), Qt::SkipEmptyParts);
    for (const QString &part : parts) {
        bool ok = false;
        const qlonglong id = part.trimmed().toLongLong(&ok);
        if (!ok || id < 0) {
            error(QStringLiteral("--%1: '%2' is not a token id (expected a comma-separated list "
                                 "of non-negative integers)")
                      .arg(name, part));
            return {};
        }
        ids.push_back(id);
    }
    if (ids.empty())
        error(QStringLiteral("--%1 lists no token ids").arg(name));
    return ids;
}

void CommandParser::requireOneOf(const QStringList &names)
{
    int count = 0;
    for (const QString &name : names)
        count += m_parser.isSet(name) ? 1 : 0;
    if (count != 1)
        error(QStringLiteral("give exactly one of --%1").arg(names.join(QStringLiteral(", --"))));
}

void CommandParser::require(const QString &name)
{
    if (!m_parser.isSet(name))
        error(QStringLiteral("--%1 is required").arg(name));
}

bool CommandParser::failed() const
{
    if (m_error.isEmpty())
        return false;
    std::fprintf(stderr, "corolla %s: %s\nRun 'corolla %s --help' for the options.\n",
                 qPrintable(m_command), qPrintable(m_error), qPrintable(m_command));
    return true;
}

void addQuantOption(CommandParser &parser)
{
    parser.addValueOption(QStringLiteral("quant"), QStringLiteral("none|int8|nf4"),
                          QStringLiteral("block weights: as in the checkpoint (none), or packed "
                                         "as int8 or nf4 (docs/quantization.md)"),
                          QStringLiteral("none"));
}

Quantization quantOption(CommandParser &parser)
{
    auto quantization = quantizationFromName(parser.text(QStringLiteral("quant")));
    if (quantization)
        return *quantization;
    parser.error(QString::fromStdString(quantization.error().message));
    return Quantization::None;
}

void addDeviceOptions(CommandParser &parser)
{
    parser.addValueOption(QStringLiteral("device"), QStringLiteral("cpu|auto|cuda[:N]"),
                          QStringLiteral("where the model computes: the CPU, a GPU, or auto "
                                         "(the first GPU when there is one)"),
                          QStringLiteral("auto"));
    parser.addValueOption(QStringLiteral("backend"), QStringLiteral("native|generic"),
                          QStringLiteral("on the CPU: our kernels (native) or libtorch tensor "
                                         "operations only (generic, what a GPU runs)"),
                          QStringLiteral("native"));
}

DeviceChoice deviceOptions(CommandParser &parser)
{
    DeviceChoice choice;
    if (auto device = ComputeDevice::fromName(parser.text(QStringLiteral("device"))))
        choice.device = *device;
    else
        parser.error(QString::fromStdString(device.error().message));
    if (auto backend = computeBackendFromName(parser.text(QStringLiteral("backend"))))
        choice.backend = *backend;
    else
        parser.error(QString::fromStdString(backend.error().message));
    return choice;
}

int reportError(const std::string &command, const std::string &message)
{
    std::fprintf(stderr, "corolla %s: %s\n", command.c_str(), message.c_str());
    return 1;
}

Result<std::pair<std::int64_t, std::int64_t>> parseBlockRange(const QString &text)
{
    const QStringList parts = text.split(QLatin1Char(':'));
    bool okBegin = false, okEnd = false;
    const qlonglong begin = parts.size() == 2 ? parts[0].toLongLong(&okBegin) : -1;
    const qlonglong end = parts.size() == 2 ? parts[1].toLongLong(&okEnd) : -1;
    if (!okBegin || !okEnd || begin < 0 || end <= begin)
        return makeError(ErrorCode::InvalidArgument,
                         "--blocks must be START:END with 0 <= START < END, not '"
                             + text.toStdString() + "'");
    return std::make_pair(std::int64_t(begin), std::int64_t(end));
}

} // namespace corolla
