// The tests of the interpreter (`value is name(arguments)`).

#include "tokenizer/jinja/builtinhelpers.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value.h"

namespace corolla::jinja {

using namespace builtin;

bool Interpreter::callTest(const std::string &name, const Value &value,
                           const std::vector<Value> &arguments)
{
    const Value other = arguments.empty() ? undefined() : arguments[0];
    if (name == "defined")
        return !isUndefined(value);
    if (name == "undefined")
        return isUndefined(value);
    if (name == "none")
        return value.is_null();
    if (name == "string")
        return value.is_string();
    if (name == "number")
        return value.is_number();
    if (name == "integer")
        return value.is_number_integer();
    if (name == "float")
        return value.is_number_float();
    if (name == "boolean")
        return value.is_boolean();
    if (name == "true")
        return value.is_boolean() && value.get<bool>();
    if (name == "false")
        return value.is_boolean() && !value.get<bool>();
    if (name == "mapping")
        return value.is_object();
    if (name == "sequence")
        return value.is_array() || value.is_string() || value.is_object();
    if (name == "iterable")
        return value.is_array() || value.is_string() || value.is_object();
    if (name == "callable")
        return false;
    if (name == "even")
        return value.is_number_integer() && value.get<std::int64_t>() % 2 == 0;
    if (name == "odd")
        return value.is_number_integer() && value.get<std::int64_t>() % 2 != 0;
    if (name == "divisibleby")
        return value.is_number_integer() && other.is_number_integer()
               && other.get<std::int64_t>() != 0
               && value.get<std::int64_t>() % other.get<std::int64_t>() == 0;
    if (name == "equalto" || name == "eq" || name == "sameas")
        return value == other;
    if (name == "ne")
        return value != other;
    if (name == "lt")
        return lessThan(value, other);
    if (name == "gt")
        return lessThan(other, value);
    if (name == "le")
        return !lessThan(other, value);
    if (name == "ge")
        return !lessThan(value, other);
    if (name == "in")
        return isTrue(binary("in", value, other));
    if (name == "lower")
        return value.is_string() && lowered(value.get<std::string>()) == value.get<std::string>();
    if (name == "upper")
        return value.is_string() && uppered(value.get<std::string>()) == value.get<std::string>();
    throw RenderError{"the test '" + name + "' is not supported"};
}

} // namespace corolla::jinja
