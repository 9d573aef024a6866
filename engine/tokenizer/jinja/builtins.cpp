// The filters and tests of the interpreter.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>

#include "tokenizer/jinja/builtinhelpers.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"
#include "tokenizer/utf8.h"

namespace corolla::jinja {

using namespace builtin;

Value Interpreter::callFilter(const std::string &name, const Value &value, const std::vector<Value> &arguments,
                              const std::map<std::string, Value> &keywords)
{
    auto arg = [&](std::size_t i, const std::string &key, const Value &fallback = undefined()) {
        return argument(arguments, keywords, i, key, fallback);
    };
    if (name == "length" || name == "count") {
        if (value.is_string())
            return std::int64_t(utf8::characters(value.get_ref<const std::string &>()).size());
        return std::int64_t(asList(value).size());
    }
    if (name == "tojson") {
        const Value indent = arg(0, "indent");
        return toJson(value, indent.is_number_integer() ? int(indent.get<std::int64_t>()) : -1);
    }
    if (name == "string")
        return toText(value);
    if (name == "safe")
        return value;
    if (name == "trim" || name == "strip")
        return stripped(toText(value), "", true, true);
    if (name == "upper")
        return uppered(toText(value));
    if (name == "lower")
        return lowered(toText(value));
    if (name == "title")
        return titled(toText(value));
    if (name == "capitalize") {
        std::string text = lowered(toText(value));
        if (!text.empty())
            text[0] = char(std::toupper(static_cast<unsigned char>(text[0])));
        return text;
    }
    if (name == "default" || name == "d") {
        const bool boolean = isTrue(arg(1, "boolean", false));
        if (isUndefined(value) || (boolean && !isTrue(value)))
            return arg(0, "default_value", "");
        return value;
    }
    if (name == "join") {
        const std::string separator = toText(arg(0, "d", ""));
        const Value attribute = arg(1, "attribute");
        std::string out;
        bool first = true;
        for (const Value &item : asList(value)) {
            out += (first ? "" : separator) + toText(isUndefined(attribute) ? item : attributeOf(item, toText(attribute)));
            first = false;
        }
        return out;
    }
    if (name == "first" || name == "last") {
        const Value list = asList(value);
        return list.empty() ? undefined() : (name == "first" ? list.front() : list.back());
    }
    if (name == "list")
        return asList(value);
    if (name == "reverse") {
        if (value.is_string()) {
            auto characters = utf8::characters(value.get_ref<const std::string &>());
            std::string out;
            for (auto it = characters.rbegin(); it != characters.rend(); ++it)
                out += *it;
            return out;
        }
        Value list = asList(value);
        std::reverse(list.begin(), list.end());
        return list;
    }
    if (name == "items" || name == "dictsort") {
        Value pairs = Value::array();
        if (value.is_object())
            for (const auto &entry : value.items())
                pairs.push_back(Value::array({entry.key(), entry.value()}));
        if (name == "dictsort")
            std::sort(pairs.begin(), pairs.end(), [](const Value &a, const Value &b) { return lessThan(a[0], b[0]); });
        return pairs;
    }
    if (name == "int") {
        if (value.is_number())
            return std::int64_t(value.get<double>());
        try {
            return std::int64_t(std::stoll(toText(value)));
        } catch (...) {
            return std::int64_t(0);
        }
    }
    if (name == "float") {
        if (value.is_number())
            return value.get<double>();
        try {
            return std::stod(toText(value));
        } catch (...) {
            return 0.0;
        }
    }
    if (name == "abs")
        return value.is_number_integer() ? Value(std::llabs(value.get<std::int64_t>())) : Value(std::fabs(value.get<double>()));
    if (name == "round") {
        const double scale = std::pow(10.0, double(arg(0, "precision", 0).get<std::int64_t>()));
        return std::round(value.get<double>() * scale) / scale;
    }
    if (name == "replace")
        return replaced(toText(value), toText(arg(0, "old")), toText(arg(1, "new")), arg(2, "count", -1).get<std::int64_t>());
    if (name == "e" || name == "escape") {
        std::string out;
        for (char c : toText(value)) {
            switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
            }
        }
        return out;
    }
    if (name == "indent") {
        const std::string pad(std::size_t(arg(0, "width", 4).get<std::int64_t>()), ' ');
        const bool first = isTrue(arg(1, "first", false));
        std::string out = first ? pad : "";
        for (char c : toText(value)) {
            out += c;
            if (c == '\n')
                out += pad;
        }
        return out;
    }
    if (name == "unique") {
        Value out = Value::array();
        for (const Value &item : asList(value))
            if (std::find(out.begin(), out.end(), item) == out.end())
                out.push_back(item);
        return out;
    }
    if (name == "sort") {
        Value list = asList(value);
        const Value attribute = arg(1, "attribute");
        std::stable_sort(list.begin(), list.end(), [&](const Value &a, const Value &b) {
            return isUndefined(attribute) ? lessThan(a, b)
                                          : lessThan(attributeOf(a, toText(attribute)), attributeOf(b, toText(attribute)));
        });
        if (isTrue(arg(0, "reverse", false)))
            std::reverse(list.begin(), list.end());
        return list;
    }
    if (name == "sum" || name == "max" || name == "min") {
        const Value list = asList(value);
        if (name == "sum") {
            Value total = std::int64_t(0);
            for (const Value &item : list)
                total = total.is_number_integer() && item.is_number_integer() ? Value(total.get<std::int64_t>() + item.get<std::int64_t>())
                                                                              : Value(total.get<double>() + item.get<double>());
            return total;
        }
        if (list.empty())
            return undefined();
        return *std::max_element(list.begin(), list.end(), [&](const Value &a, const Value &b) {
            return name == "max" ? lessThan(a, b) : lessThan(b, a);
        });
    }
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
        const bool byAttribute = name.size() > 6;
        const bool keep = name.rfind("select", 0) == 0;
        Value out = Value::array();
        for (const Value &item : asList(value)) {
            const Value subject = byAttribute ? attributeOf(item, toText(arguments.empty() ? Value("") : arguments[0])) : item;
            const std::size_t testAt = byAttribute ? 1 : 0;
            bool passed;
            if (arguments.size() > testAt) {
                const std::vector<Value> rest(arguments.begin() + std::ptrdiff_t(testAt) + 1, arguments.end());
                passed = callTest(toText(arguments[testAt]), subject, rest);
            } else {
                passed = isTrue(subject);
            }
            if (passed == keep)
                out.push_back(item);
        }
        return out;
    }
    if (name == "map") {
        Value out = Value::array();
        const auto attribute = keywords.find("attribute");
        for (const Value &item : asList(value)) {
            if (attribute != keywords.end()) {
                out.push_back(attributeOf(item, toText(attribute->second)));
            } else if (!arguments.empty()) {
                const std::vector<Value> rest(arguments.begin() + 1, arguments.end());
                out.push_back(callFilter(toText(arguments[0]), item, rest, {}));
            } else {
                out.push_back(item);
            }
        }
        return out;
    }
    if (name == "wordcount") {
        std::int64_t words = 0;
        bool inWord = false;
        for (char c : toText(value)) {
            const bool space = std::isspace(static_cast<unsigned char>(c));
            words += (!space && !inWord) ? 1 : 0;
            inWord = !space;
        }
        return words;
    }
    throw RenderError{"the filter '" + name + "' is not supported"};
}

bool Interpreter::callTest(const std::string &name, const Value &value, const std::vector<Value> &arguments)
{
    const Value other = arguments.empty() ? undefined() : arguments[0];
    if (name == "defined") return !isUndefined(value);
    if (name == "undefined") return isUndefined(value);
    if (name == "none") return value.is_null();
    if (name == "string") return value.is_string();
    if (name == "number") return value.is_number();
    if (name == "integer") return value.is_number_integer();
    if (name == "float") return value.is_number_float();
    if (name == "boolean") return value.is_boolean();
    if (name == "true") return value.is_boolean() && value.get<bool>();
    if (name == "false") return value.is_boolean() && !value.get<bool>();
    if (name == "mapping") return value.is_object();
    if (name == "sequence") return value.is_array() || value.is_string() || value.is_object();
    if (name == "iterable") return value.is_array() || value.is_string() || value.is_object();
    if (name == "callable") return false;
    if (name == "even") return value.is_number_integer() && value.get<std::int64_t>() % 2 == 0;
    if (name == "odd") return value.is_number_integer() && value.get<std::int64_t>() % 2 != 0;
    if (name == "divisibleby") return value.is_number_integer() && other.is_number_integer() && other.get<std::int64_t>() != 0
                                      && value.get<std::int64_t>() % other.get<std::int64_t>() == 0;
    if (name == "equalto" || name == "eq" || name == "sameas") return value == other;
    if (name == "ne") return value != other;
    if (name == "lt") return lessThan(value, other);
    if (name == "gt") return lessThan(other, value);
    if (name == "le") return !lessThan(other, value);
    if (name == "ge") return !lessThan(value, other);
    if (name == "in") return isTrue(binary("in", value, other));
    if (name == "lower") return value.is_string() && lowered(value.get<std::string>()) == value.get<std::string>();
    if (name == "upper") return value.is_string() && uppered(value.get<std::string>()) == value.get<std::string>();
    throw RenderError{"the test '" + name + "' is not supported"};
}

} // namespace corolla::jinja
