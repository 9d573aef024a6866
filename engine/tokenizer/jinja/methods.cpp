// The methods of strings and dicts, and the global functions of the interpreter.

#include <chrono>
#include <ctime>

#include "tokenizer/jinja/builtinhelpers.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace corolla::jinja {

using namespace builtin;

Value Interpreter::callMethod(const Value &object, const std::string &name,
                              const std::vector<Value> &arguments,
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
                    && (name == "startswith"
                            ? text.compare(0, affix.size(), affix) == 0
                            : text.compare(text.size() - affix.size(), affix.size(), affix) == 0))
                    return true;
            }
            return false;
        }
        if (name == "strip" || name == "lstrip" || name == "rstrip") {
            const Value characters = arg(0, "chars");
            return stripped(text, characters.is_string() ? characters.get<std::string>() : "",
                            name != "rstrip", name != "lstrip");
        }
        if (name == "upper")
            return uppered(text);
        if (name == "lower")
            return lowered(text);
        if (name == "title")
            return titled(text);
        if (name == "capitalize")
            return callFilter("capitalize", object, {}, {});
        if (name == "replace")
            return replaced(text, toText(arg(0, "old")), toText(arg(1, "new")),
                            arg(2, "count", -1).get<std::int64_t>());
        if (name == "find") {
            const std::size_t at = text.find(toText(arg(0, "sub")));
            return at == std::string::npos ? std::int64_t(-1) : std::int64_t(at);
        }
        if (name == "count") {
            const std::string sub = toText(arg(0, "sub"));
            std::int64_t count = 0;
            for (std::size_t at = text.find(sub); !sub.empty() && at != std::string::npos;
                 at = text.find(sub, at + sub.size()))
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
            std::int64_t limit =
                name == "splitlines" ? -1 : arg(1, "maxsplit", -1).get<std::int64_t>();
            if (!separator.is_string()) {
                // Python's split(): runs of whitespace, no empty parts.
                std::size_t at = 0;
                while (at < text.size()) {
                    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at])))
                        ++at;
                    if (at >= text.size())
                        break;
                    std::size_t end = at;
                    while (end < text.size()
                           && !std::isspace(static_cast<unsigned char>(text[end])))
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
            for (std::size_t at = text.find(sep); at != std::string::npos && limit != 0;
                 at = text.find(sep, last), --limit) {
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
        if (name == "items")
            return callFilter("items", object, {}, {});
        if (name == "keys")
            return asList(object);
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
    throw RenderError{"the method '" + name + "' is not supported on "
                      + std::string(object.type_name())};
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
        const std::time_t now =
            std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm local{};
#ifdef _WIN32
        localtime_s(&local, &now);
#else
        localtime_r(&now, &local);
#endif
        char buffer[256];
        const std::size_t length =
            std::strftime(buffer, sizeof buffer,
                          toText(arguments.empty() ? Value("") : arguments[0]).c_str(), &local);
        return std::string(buffer, length);
    }
    throw RenderError{"the function '" + name + "' is not defined"};
}

} // namespace corolla::jinja
