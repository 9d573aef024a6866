// The filters, tests, methods and global functions of the interpreter.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"
#include "tokenizer/utf8.h"

namespace corolla::jinja {

namespace {

const Value &argument(const std::vector<Value> &arguments, const std::map<std::string, Value> &keywords,
                      std::size_t index, const std::string &name, const Value &fallback)
{
    if (index < arguments.size())
        return arguments[index];
    const auto it = keywords.find(name);
    return it == keywords.end() ? fallback : it->second;
}

std::string stripped(const std::string &text, const std::string &characters, bool left, bool right)
{
    const std::string set = characters.empty() ? std::string(" \t\n\r\f\v") : characters;
    std::size_t begin = 0, end = text.size();
    while (left && begin < end && set.find(text[begin]) != std::string::npos)
        ++begin;
    while (right && end > begin && set.find(text[end - 1]) != std::string::npos)
        --end;
    return text.substr(begin, end - begin);
}

std::string lowered(std::string text)
{
    for (char &c : text)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::string uppered(std::string text)
{
    for (char &c : text)
        c = char(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

std::string titled(const std::string &text)
{
    std::string out = text;
    bool start = true;
    for (char &c : out) {
        const bool letter = std::isalpha(static_cast<unsigned char>(c));
        c = char(letter ? (start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c))) : c);
        start = !letter;
    }
    return out;
}

std::string replaced(const std::string &text, const std::string &from, const std::string &to, std::int64_t count)
{
    if (from.empty())
        return text;
    std::string out;
    std::size_t last = 0;
    for (std::size_t at = text.find(from); at != std::string::npos && count != 0; at = text.find(from, last), --count) {
        out.append(text, last, at - last);
        out += to;
        last = at + from.size();
    }
    return out + text.substr(last);
}

Value attributeOf(const Value &item, const std::string &path)
{
    Value current = item;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t dot = path.find('.', start);
        const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!current.is_object() || !current.contains(key))
            return undefined();
        current = current[key];
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    return current;
}

Value asList(const Value &value)
{
    if (value.is_array())
        return value;
    Value list = Value::array();
    if (value.is_object()) {
        for (const auto &entry : value.items())
            list.push_back(entry.key());
    } else if (value.is_string()) {
        for (const std::string &c : utf8::characters(value.get_ref<const std::string &>()))
            list.push_back(c);
    } else if (!isUndefined(value) && !value.is_null()) {
        throw RenderError{toRepr(value) + " is not iterable"};
    }
    return list;
}

bool lessThan(const Value &a, const Value &b)
{
    if (a.is_number() && b.is_number())
        return a.get<double>() < b.get<double>();
    return toText(a) < toText(b);
}

} // namespace

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

Value Interpreter::callMethod(const Value &object, const std::string &name, const std::vector<Value> &arguments,
                              const std::map<std::string, Value> &keywords)
{
    auto arg = [&](std::size_t i, const std::string &key, const Value &fallback = undefined()) {
        return argument(arguments, keywords, i, key, fallback);
    };
    if (object.is_string()) {
        const std::string &text = object.get_ref<const std::string &>();
        if (name == "startswith" || name == "endswith") {
            const Value candidates = arg(0, "prefix");
            const Value list = candidates.is_array() ? candidates : Value::array({candidates});
            for (const Value &candidate : list) {
                const std::string affix = toText(candidate);
                if (affix.size() <= text.size()
                    && (name == "startswith" ? text.compare(0, affix.size(), affix) == 0
                                             : text.compare(text.size() - affix.size(), affix.size(), affix) == 0))
                    return true;
            }
            return false;
        }
        if (name == "strip" || name == "lstrip" || name == "rstrip") {
            const Value characters = arg(0, "chars");
            return stripped(text, characters.is_string() ? characters.get<std::string>() : "", name != "rstrip", name != "lstrip");
        }
        if (name == "upper") return uppered(text);
        if (name == "lower") return lowered(text);
        if (name == "title") return titled(text);
        if (name == "capitalize") return callFilter("capitalize", object, {}, {});
        if (name == "replace") return replaced(text, toText(arg(0, "old")), toText(arg(1, "new")), arg(2, "count", -1).get<std::int64_t>());
        if (name == "find") {
            const std::size_t at = text.find(toText(arg(0, "sub")));
            return at == std::string::npos ? std::int64_t(-1) : std::int64_t(at);
        }
        if (name == "count") {
            const std::string sub = toText(arg(0, "sub"));
            std::int64_t count = 0;
            for (std::size_t at = text.find(sub); !sub.empty() && at != std::string::npos; at = text.find(sub, at + sub.size()))
                ++count;
            return count;
        }
        if (name == "join") {
            std::string out;
            bool first = true;
            for (const Value &item : asList(arg(0, "iterable"))) {
                out += (first ? "" : text) + toText(item);
                first = false;
            }
            return out;
        }
        if (name == "split" || name == "splitlines") {
            Value parts = Value::array();
            const Value separator = name == "splitlines" ? Value("\n") : arg(0, "sep");
            std::int64_t limit = name == "splitlines" ? -1 : arg(1, "maxsplit", -1).get<std::int64_t>();
            if (!separator.is_string()) {
                // Python's split(): runs of whitespace, no empty parts.
                std::size_t at = 0;
                while (at < text.size()) {
                    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at])))
                        ++at;
                    if (at >= text.size())
                        break;
                    std::size_t end = at;
                    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])))
                        ++end;
                    if (limit == 0) {
                        parts.push_back(text.substr(at));
                        break;
                    }
                    parts.push_back(text.substr(at, end - at));
                    --limit;
                    at = end;
                }
                return parts;
            }
            const std::string sep = separator.get<std::string>();
            if (sep.empty())
                throw RenderError{"split() with an empty separator"};
            std::size_t last = 0;
            for (std::size_t at = text.find(sep); at != std::string::npos && limit != 0; at = text.find(sep, last), --limit) {
                parts.push_back(text.substr(last, at - last));
                last = at + sep.size();
            }
            parts.push_back(text.substr(last));
            if (name == "splitlines" && !parts.empty() && parts.back().get<std::string>().empty())
                parts.erase(parts.size() - 1);
            return parts;
        }
    }
    if (object.is_object()) {
        if (name == "items") return callFilter("items", object, {}, {});
        if (name == "keys") return asList(object);
        if (name == "values") {
            Value values = Value::array();
            for (const auto &entry : object.items())
                values.push_back(entry.value());
            return values;
        }
        if (name == "get") {
            const std::string key = toText(arg(0, "key"));
            return object.contains(key) ? object[key] : arg(1, "default", nullptr);
        }
    }
    throw RenderError{"the method '" + name + "' is not supported on " + std::string(object.type_name())};
}

Value Interpreter::callFunction(const std::string &name, const std::vector<Value> &arguments,
                                const std::map<std::string, Value> &keywords)
{
    if (name == "raise_exception")
        throw RenderError{arguments.empty() ? "raise_exception()" : toText(arguments[0])};
    if (name == "namespace" || name == "dict") {
        Value object = Value::object();
        for (const auto &[key, value] : keywords)
            object[key] = value;
        return object;
    }
    if (name == "range") {
        std::int64_t start = 0, stop = 0, step = 1;
        if (arguments.size() == 1) {
            stop = arguments[0].get<std::int64_t>();
        } else if (arguments.size() >= 2) {
            start = arguments[0].get<std::int64_t>();
            stop = arguments[1].get<std::int64_t>();
            if (arguments.size() > 2)
                step = arguments[2].get<std::int64_t>();
        }
        if (step == 0 || (stop - start) / step > 100000)
            throw RenderError{"range() is too large or has a zero step"};
        Value list = Value::array();
        for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            list.push_back(i);
        return list;
    }
    if (name == "strftime_now") {
        const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm local{};
#ifdef _WIN32
        localtime_s(&local, &now);
#else
        localtime_r(&now, &local);
#endif
        char buffer[256];
        const std::size_t length = std::strftime(buffer, sizeof buffer, toText(arguments.empty() ? Value("") : arguments[0]).c_str(), &local);
        return std::string(buffer, length);
    }
    throw RenderError{"the function '" + name + "' is not defined"};
}

} // namespace corolla::jinja
