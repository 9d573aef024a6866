#include "tokenizer/jinja/value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace corolla::jinja {

Value undefined()
{
    return Value(Value::value_t::discarded);
}

bool isUndefined(const Value &value)
{
    return value.is_discarded();
}

bool isTrue(const Value &value)
{
    switch (value.type()) {
    case Value::value_t::boolean: return value.get<bool>();
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: return value.get<std::int64_t>() != 0;
    case Value::value_t::number_float: return value.get<double>() != 0.0;
    case Value::value_t::string: return !value.get_ref<const std::string &>().empty();
    case Value::value_t::array:
    case Value::value_t::object: return !value.empty();
    default: return false;
    }
}

std::string formatFloat(double value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char buffer[32];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
        if (std::strtod(buffer, nullptr) == value)
            break;
    }
    std::string text = buffer;
    const std::size_t exponent = text.find('e');
    if (exponent != std::string::npos) {
        // Python writes e-05 as e-05 and e+16 as e+16: the same two-digit minimum as C.
        return text;
    }
    if (text.find('.') == std::string::npos)
        text += ".0";
    return text;
}

namespace {

std::string quoteRepr(const std::string &text)
{
    const bool useDouble =
        text.find('\'') != std::string::npos && text.find('"') == std::string::npos;
    const char quote = useDouble ? '"' : '\'';
    std::string out(1, quote);
    for (char c : text) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c == quote)
                out += std::string("\\") + c;
            else
                out += c;
        }
    }
    return out + quote;
}

std::string jsonString(const std::string &text)
{
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                out += escaped;
            } else {
                out += char(c);
            }
        }
    }
    return out + "\"";
}

void dumpJson(const Value &value, int indent, int depth, std::string &out)
{
    const std::string newline =
        indent >= 0 ? "\n" + std::string(std::size_t(indent * (depth + 1)), ' ') : "";
    const std::string closing =
        indent >= 0 ? "\n" + std::string(std::size_t(indent * depth), ' ') : "";
    const std::string separator = indent >= 0 ? "," : ", ";
    switch (value.type()) {
    case Value::value_t::object: {
        if (value.empty()) {
            out += "{}";
            return;
        }
        out += "{";
        bool first = true;
        for (const auto &[key, item] : value.items()) {
            out += first ? newline : separator + newline;
            first = false;
            out += jsonString(key) + ": ";
            dumpJson(item, indent, depth + 1, out);
        }
        out += closing + "}";
        return;
    }
    case Value::value_t::array: {
        if (value.empty()) {
            out += "[]";
            return;
        }
        out += "[";
        bool first = true;
        for (const Value &item : value) {
            out += first ? newline : separator + newline;
            first = false;
            dumpJson(item, indent, depth + 1, out);
        }
        out += closing + "]";
        return;
    }
    case Value::value_t::string: out += jsonString(value.get_ref<const std::string &>()); return;
    case Value::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case Value::value_t::number_float: {
        const double number = value.get<double>();
        out += std::isnan(number)   ? "NaN"
               : std::isinf(number) ? (number > 0 ? "Infinity" : "-Infinity")
                                    : formatFloat(number);
        return;
    }
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: out += std::to_string(value.get<std::int64_t>()); return;
    default: out += "null"; return;
    }
}

} // namespace

std::string toRepr(const Value &value)
{
    switch (value.type()) {
    case Value::value_t::string: return quoteRepr(value.get_ref<const std::string &>());
    case Value::value_t::array: {
        std::string out = "[";
        for (std::size_t i = 0; i < value.size(); ++i)
            out += (i ? ", " : "") + toRepr(value[i]);
        return out + "]";
    }
    case Value::value_t::object: {
        std::string out = "{";
        bool first = true;
        for (const auto &[key, item] : value.items()) {
            out += (first ? "" : ", ") + quoteRepr(key) + ": " + toRepr(item);
            first = false;
        }
        return out + "}";
    }
    default: return toText(value);
    }
}

std::string toText(const Value &value)
{
    switch (value.type()) {
    case Value::value_t::discarded: return "";
    case Value::value_t::null: return "None";
    case Value::value_t::boolean: return value.get<bool>() ? "True" : "False";
    case Value::value_t::string: return value.get<std::string>();
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: return std::to_string(value.get<std::int64_t>());
    case Value::value_t::number_float: return formatFloat(value.get<double>());
    default: return toRepr(value);
    }
}

std::string toJson(const Value &value, int indent)
{
    std::string out;
    dumpJson(value, indent, 0, out);
    return out;
}

} // namespace corolla::jinja
