#pragma once
// Small helpers shared by the filters, tests and methods: Python-style string operations,
// argument lookup, attribute paths, iteration and ordering of values.
// Thread: any.

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"
#include "tokenizer/utf8.h"

namespace corolla::jinja::builtin {

inline const Value &argument(const std::vector<Value> &arguments,
                             const std::map<std::string, Value> &keywords, std::size_t index,
                             const std::string &name, const Value &fallback)
{
    if (index < arguments.size())
        return arguments[index];
    const auto it = keywords.find(name);
    return it == keywords.end() ? fallback : it->second;
}

inline std::string stripped(const std::string &text, const std::string &characters, bool left,
                            bool right)
{
    const std::string set = characters.empty() ? std::string(" \t\n\r\f\v") : characters;
    std::size_t begin = 0, end = text.size();
    while (left && begin < end && set.find(text[begin]) != std::string::npos)
        ++begin;
    while (right && end > begin && set.find(text[end - 1]) != std::string::npos)
        --end;
    return text.substr(begin, end - begin);
}

inline std::string lowered(std::string text)
{
    for (char &c : text)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

inline std::string uppered(std::string text)
{
    for (char &c : text)
        c = char(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

inline std::string titled(const std::string &text)
{
    std::string out = text;
    bool start = true;
    for (char &c : out) {
        const bool letter = std::isalpha(static_cast<unsigned char>(c));
        c = char(letter ? (start ? std::toupper(static_cast<unsigned char>(c))
                                 : std::tolower(static_cast<unsigned char>(c)))
                        : c);
        start = !letter;
    }
    return out;
}

inline std::string replaced(const std::string &text, const std::string &from, const std::string &to,
                            std::int64_t count)
{
    if (from.empty())
        return text;
    std::string out;
    std::size_t last = 0;
    for (std::size_t at = text.find(from); at != std::string::npos && count != 0;
         at = text.find(from, last), --count) {
        out.append(text, last, at - last);
        out += to;
        last = at + from.size();
    }
    return out + text.substr(last);
}

inline Value attributeOf(const Value &item, const std::string &path)
{
    Value current = item;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t dot = path.find('.', start);
        const std::string key =
            path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!current.is_object() || !current.contains(key))
            return undefined();
        current = current[key];
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    return current;
}

inline Value asList(const Value &value)
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

inline bool lessThan(const Value &a, const Value &b)
{
    if (a.is_number() && b.is_number())
        return a.get<double>() < b.get<double>();
    return toText(a) < toText(b);
}

} // namespace corolla::jinja::builtin
