// The filters of the interpreter, by name in one table.

#include <algorithm>
#include <cctype>
#include <cmath>

#include "tokenizer/jinja/builtinhelpers.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"
#include "tokenizer/utf8.h"

namespace corolla::jinja {

using namespace builtin;

namespace {

// One use of a filter: `value | name(arguments, keywords)`.
struct FilterCall {
    Interpreter &interpreter;
    const std::string &name;
    const Value &value;
    const std::vector<Value> &arguments;
    const std::map<std::string, Value> &keywords;

    // The argument at `index`, or the keyword `key`, or `fallback`.
    Value arg(std::size_t index, const std::string &key, const Value &fallback = undefined()) const
    {
        return argument(arguments, keywords, index, key, fallback);
    }
};

using Filter = Value (*)(const FilterCall &call);

Value lengthFilter(const FilterCall &call)
{
    if (call.value.is_string())
        return std::int64_t(utf8::characters(call.value.get_ref<const std::string &>()).size());
    return std::int64_t(asList(call.value).size());
}

Value tojsonFilter(const FilterCall &call)
{
    const Value indent = call.arg(0, "indent");
    return toJson(call.value, indent.is_number_integer() ? int(indent.get<std::int64_t>()) : -1);
}

Value stringFilter(const FilterCall &call)
{
    return toText(call.value);
}

Value safeFilter(const FilterCall &call)
{
    return call.value;
}

Value trimFilter(const FilterCall &call)
{
    return stripped(toText(call.value), "", true, true);
}

Value upperFilter(const FilterCall &call)
{
    return uppered(toText(call.value));
}

Value lowerFilter(const FilterCall &call)
{
    return lowered(toText(call.value));
}

Value titleFilter(const FilterCall &call)
{
    return titled(toText(call.value));
}

Value capitalizeFilter(const FilterCall &call)
{
    std::string text = lowered(toText(call.value));
    if (!text.empty())
        text[0] = char(std::toupper(static_cast<unsigned char>(text[0])));
    return text;
}

Value defaultFilter(const FilterCall &call)
{
    const bool boolean = isTrue(call.arg(1, "boolean", false));
    if (isUndefined(call.value) || (boolean && !isTrue(call.value)))
        return call.arg(0, "default_value", "");
    return call.value;
}

Value joinFilter(const FilterCall &call)
{
    const std::string separator = toText(call.arg(0, "d", ""));
    const Value attribute = call.arg(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value &item : asList(call.value)) {
        out += (first ? "" : separator)
               + toText(isUndefined(attribute) ? item : attributeOf(item, toText(attribute)));
        first = false;
    }
    return out;
}

Value firstOrLastFilter(const FilterCall &call)
{
    const Value list = asList(call.value);
    return list.empty() ? undefined() : (call.name == "first" ? list.front() : list.back());
}

Value listFilter(const FilterCall &call)
{
    return asList(call.value);
}

Value reverseFilter(const FilterCall &call)
{
    if (call.value.is_string()) {
        auto characters = utf8::characters(call.value.get_ref<const std::string &>());
        std::string out;
        for (auto it = characters.rbegin(); it != characters.rend(); ++it)
            out += *it;
        return out;
    }
    Value list = asList(call.value);
    std::reverse(list.begin(), list.end());
    return list;
}

Value itemsOrDictsortFilter(const FilterCall &call)
{
    Value pairs = Value::array();
    if (call.value.is_object())
        for (const auto &entry : call.value.items())
            pairs.push_back(Value::array({entry.key(), entry.value()}));
    if (call.name == "dictsort")
        std::sort(pairs.begin(), pairs.end(),
                  [](const Value &a, const Value &b) { return lessThan(a[0], b[0]); });
    return pairs;
}

Value intFilter(const FilterCall &call)
{
    if (call.value.is_number())
        return std::int64_t(call.value.get<double>());
    try {
        return std::int64_t(std::stoll(toText(call.value)));
    } catch (...) {
        return std::int64_t(0);
    }
}

Value floatFilter(const FilterCall &call)
{
    if (call.value.is_number())
        return call.value.get<double>();
    try {
        return std::stod(toText(call.value));
    } catch (...) {
        return 0.0;
    }
}

Value absFilter(const FilterCall &call)
{
    return call.value.is_number_integer() ? Value(std::llabs(call.value.get<std::int64_t>()))
                                          : Value(std::fabs(call.value.get<double>()));
}

Value roundFilter(const FilterCall &call)
{
    const double scale = std::pow(10.0, double(call.arg(0, "precision", 0).get<std::int64_t>()));
    return std::round(call.value.get<double>() * scale) / scale;
}

Value replaceFilter(const FilterCall &call)
{
    return replaced(toText(call.value), toText(call.arg(0, "old")), toText(call.arg(1, "new")),
                    call.arg(2, "count", -1).get<std::int64_t>());
}

Value escapeFilter(const FilterCall &call)
{
    std::string out;
    for (char c : toText(call.value)) {
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

Value indentFilter(const FilterCall &call)
{
    const std::string pad(std::size_t(call.arg(0, "width", 4).get<std::int64_t>()), ' ');
    const bool first = isTrue(call.arg(1, "first", false));
    std::string out = first ? pad : "";
    for (char c : toText(call.value)) {
        out += c;
        if (c == '\n')
            out += pad;
    }
    return out;
}

Value uniqueFilter(const FilterCall &call)
{
    Value out = Value::array();
    for (const Value &item : asList(call.value))
        if (std::find(out.begin(), out.end(), item) == out.end())
            out.push_back(item);
    return out;
}

Value sortFilter(const FilterCall &call)
{
    Value list = asList(call.value);
    const Value attribute = call.arg(1, "attribute");
    std::stable_sort(list.begin(), list.end(), [&](const Value &a, const Value &b) {
        return isUndefined(attribute)
                   ? lessThan(a, b)
                   : lessThan(attributeOf(a, toText(attribute)), attributeOf(b, toText(attribute)));
    });
    if (isTrue(call.arg(0, "reverse", false)))
        std::reverse(list.begin(), list.end());
    return list;
}

Value sumOrExtremeFilter(const FilterCall &call)
{
    const Value list = asList(call.value);
    if (call.name == "sum") {
        Value total = std::int64_t(0);
        for (const Value &item : list)
            total = total.is_number_integer() && item.is_number_integer()
                        ? Value(total.get<std::int64_t>() + item.get<std::int64_t>())
                        : Value(total.get<double>() + item.get<double>());
        return total;
    }
    if (list.empty())
        return undefined();
    return *std::max_element(list.begin(), list.end(), [&](const Value &a, const Value &b) {
        return call.name == "max" ? lessThan(a, b) : lessThan(b, a);
    });
}

Value selectOrRejectFilter(const FilterCall &call)
{
    const bool byAttribute = call.name.size() > 6;
    const bool keep = call.name.rfind("select", 0) == 0;
    Value out = Value::array();
    for (const Value &item : asList(call.value)) {
        const Value subject =
            byAttribute
                ? attributeOf(item, toText(call.arguments.empty() ? Value("") : call.arguments[0]))
                : item;
        const std::size_t testAt = byAttribute ? 1 : 0;
        bool passed;
        if (call.arguments.size() > testAt) {
            const std::vector<Value> rest(call.arguments.begin() + std::ptrdiff_t(testAt) + 1,
                                          call.arguments.end());
            passed = call.interpreter.callTest(toText(call.arguments[testAt]), subject, rest);
        } else {
            passed = isTrue(subject);
        }
        if (passed == keep)
            out.push_back(item);
    }
    return out;
}

Value mapFilter(const FilterCall &call)
{
    Value out = Value::array();
    const auto attribute = call.keywords.find("attribute");
    for (const Value &item : asList(call.value)) {
        if (attribute != call.keywords.end()) {
            out.push_back(attributeOf(item, toText(attribute->second)));
        } else if (!call.arguments.empty()) {
            const std::vector<Value> rest(call.arguments.begin() + 1, call.arguments.end());
            out.push_back(call.interpreter.callFilter(toText(call.arguments[0]), item, rest, {}));
        } else {
            out.push_back(item);
        }
    }
    return out;
}

Value wordcountFilter(const FilterCall &call)
{
    std::int64_t words = 0;
    bool inWord = false;
    for (char c : toText(call.value)) {
        const bool space = std::isspace(static_cast<unsigned char>(c));
        words += (!space && !inWord) ? 1 : 0;
        inWord = !space;
    }
    return words;
}

// Every filter by name, with Jinja's aliases.
const std::map<std::string, Filter> &filters()
{
    static const std::map<std::string, Filter> table{
        {"length", lengthFilter},
        {"count", lengthFilter},
        {"tojson", tojsonFilter},
        {"string", stringFilter},
        {"safe", safeFilter},
        {"trim", trimFilter},
        {"strip", trimFilter},
        {"upper", upperFilter},
        {"lower", lowerFilter},
        {"title", titleFilter},
        {"capitalize", capitalizeFilter},
        {"default", defaultFilter},
        {"d", defaultFilter},
        {"join", joinFilter},
        {"first", firstOrLastFilter},
        {"last", firstOrLastFilter},
        {"list", listFilter},
        {"reverse", reverseFilter},
        {"items", itemsOrDictsortFilter},
        {"dictsort", itemsOrDictsortFilter},
        {"int", intFilter},
        {"float", floatFilter},
        {"abs", absFilter},
        {"round", roundFilter},
        {"replace", replaceFilter},
        {"e", escapeFilter},
        {"escape", escapeFilter},
        {"indent", indentFilter},
        {"unique", uniqueFilter},
        {"sort", sortFilter},
        {"sum", sumOrExtremeFilter},
        {"max", sumOrExtremeFilter},
        {"min", sumOrExtremeFilter},
        {"selectattr", selectOrRejectFilter},
        {"rejectattr", selectOrRejectFilter},
        {"select", selectOrRejectFilter},
        {"reject", selectOrRejectFilter},
        {"map", mapFilter},
        {"wordcount", wordcountFilter},
    };
    return table;
}

} // namespace

Value Interpreter::callFilter(const std::string &name, const Value &value,
                              const std::vector<Value> &arguments,
                              const std::map<std::string, Value> &keywords)
{
    const auto filter = filters().find(name);
    if (filter == filters().end())
        throw RenderError{"the filter '" + name + "' is not supported"};
    return filter->second(FilterCall{*this, name, value, arguments, keywords});
}

} // namespace corolla::jinja
