#pragma once
// Option parsing for the `corolla <command>` modes: QCommandLineParser plus typed getters
// that turn bad values into one clear message.
// Thread: main.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <QCommandLineParser>
#include <QStringList>

#include "core/compute.h"
#include "core/result.h"

namespace corolla {

class CommandParser {
public:
    CommandParser(const QString &command, const QString &description);

    // An option taking a value; an empty default means none.
    void addValueOption(const QString &name, const QString &valueName, const QString &help,
                        const QString &defaultValue = {});
    // Several, as a table: {name, value name, help, default (may be left out)}.
    struct ValueOption {
        const char *name;
        const char *valueName;
        const char *help;
        const char *defaultValue = "";
    };
    void addValueOptions(std::initializer_list<ValueOption> options);
    void addFlag(const QString &name, const QString &help);
    // An argument without an option name, in the order added; all of them are required.
    void addPositional(const QString &name, const QString &help);
    QString positional(int index) const { return m_parser.positionalArguments().value(index); }

    // Parses `arguments` (the command name first). False after printing help (exitCode 0)
    // or an error (exitCode 2).
    bool parse(const QStringList &arguments, int &exitCode);

    bool isSet(const QString &name) const { return m_parser.isSet(name); }
    QString value(const QString &name) const { return m_parser.value(name); }
    std::string text(const QString &name) const { return value(name).toStdString(); }
    // Every value of an option given several times.
    QStringList values(const QString &name) const { return m_parser.values(name); }
    // Records an error of the caller's own checks, reported by failed().
    void error(const QString &message);

    // Typed values; on a bad value they record an error that fail() reports.
    std::int64_t integer(const QString &name, std::int64_t minimum, std::int64_t maximum);
    double number(const QString &name, double minimum, double maximum);
    std::vector<std::int64_t> idList(const QString &name);
    // Requires that exactly one of `names` is set.
    void requireOneOf(const QStringList &names);
    void require(const QString &name);

    // Whether a typed getter failed; prints the first error with the usage hint.
    bool failed() const;

private:
    // `value` when it parsed and lies in [minimum, maximum]; otherwise records the error
    // "--name must be <noun> in [minimum, maximum]" and returns minimum.
    template <typename T>
    T inRange(const QString &name, T value, bool parsed, T minimum, T maximum, const char *noun);

    QString m_command;
    QCommandLineParser m_parser;
    QString m_error;
    int m_positionals = 0;
};

// "A:B" with 0 <= A < B: the blocks [A, B).
Result<std::pair<std::int64_t, std::int64_t>> parseBlockRange(const QString &text);

// --quant none|int8|nf4 (default none): how the blocks' projection weights are held.
void addQuantOption(CommandParser &parser);
// Its value; a bad one is recorded in the parser (see CommandParser::failed()).
Quantization quantOption(CommandParser &parser);

// --device cpu|auto|cuda[:N] (default auto) and --backend native|generic (default native):
// where the model's tensors live and how its blocks compute (model/placement.h).
void addDeviceOptions(CommandParser &parser);
struct DeviceChoice {
    ComputeDevice device = ComputeDevice::automatic();
    ComputeBackend backend = ComputeBackend::Native;
};
// Their values; bad names are recorded in the parser. Whether the device exists is checked
// when the model loads (resolvePlacement).
DeviceChoice deviceOptions(CommandParser &parser);

// Prints "corolla <command>: <message>" to stderr and returns 1.
int reportError(const std::string &command, const std::string &message);

} // namespace corolla
