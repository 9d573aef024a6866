#include "tokenizer/jinja/interpreter.h"

#include <cmath>
#include <optional>

#include "tokenizer/jinja/value.h"
#include "tokenizer/utf8.h"

namespace corolla::jinja {

namespace {

// `a op b` for the ordering operators (<, <=, >, >=); nullopt for any other.
template <typename T> std::optional<bool> ordered(const std::string &op, const T &a, const T &b)
{
    if (op == "<")
        return a < b;
    if (op == "<=")
        return a <= b;
    if (op == ">")
        return a > b;
    if (op == ">=")
        return a >= b;
    return std::nullopt;
}

constexpr int kMaxDepth = 200; // macro recursion and nesting, against hostile templates

bool isNumber(const Value &value)
{
    return value.is_number() || value.is_boolean();
}

double asDouble(const Value &value)
{
    return value.is_boolean() ? double(value.get<bool>()) : value.get<double>();
}

bool isInteger(const Value &value)
{
    return value.is_number_integer() || value.is_boolean();
}

std::int64_t asInteger(const Value &value)
{
    return value.is_boolean() ? std::int64_t(value.get<bool>()) : value.get<std::int64_t>();
}

// Python's index normalisation for negative positions.
std::int64_t normaliseIndex(std::int64_t index, std::int64_t size)
{
    return index < 0 ? index + size : index;
}

Value sliceOf(const Value &object, const Value &start, const Value &stop, const Value &stepValue)
{
    const bool isString = object.is_string();
    std::vector<std::string> characters;
    if (isString)
        characters = utf8::characters(object.get_ref<const std::string &>());
    else if (!object.is_array())
        throw RenderError{"only lists and strings can be sliced"};
    const std::int64_t size =
        isString ? std::int64_t(characters.size()) : std::int64_t(object.size());
    const std::int64_t step =
        stepValue.is_null() || isUndefined(stepValue) ? 1 : asInteger(stepValue);
    if (step == 0)
        throw RenderError{"slice step cannot be zero"};
    auto bound = [&](const Value &value, std::int64_t fallback) {
        if (value.is_null() || isUndefined(value))
            return fallback;
        std::int64_t index = normaliseIndex(asInteger(value), size);
        if (step > 0)
            return std::clamp<std::int64_t>(index, 0, size);
        return std::clamp<std::int64_t>(index, -1, size - 1);
    };
    const std::int64_t begin = bound(start, step > 0 ? 0 : size - 1);
    const std::int64_t end = bound(stop, step > 0 ? size : -1);
    Value result = isString ? Value("") : Value::array();
    for (std::int64_t i = begin; step > 0 ? i < end : i > end; i += step) {
        if (isString)
            result.get_ref<std::string &>() += characters[std::size_t(i)];
        else
            result.push_back(object[std::size_t(i)]);
    }
    return result;
}

} // namespace

Result<std::string> Interpreter::render(const Body &body, const Value &context)
{
    m_scopes.assign(1, {});
    for (const auto &[key, value] : context.items())
        m_scopes.front()[key] = value;
    std::string out;
    try {
        run(body, out);
    } catch (const RenderError &error) {
        return makeError(ErrorCode::InvalidArgument, "chat template: " + error.message);
    } catch (const std::exception &error) {
        return makeError(ErrorCode::InvalidArgument, std::string("chat template: ") + error.what());
    }
    return out;
}

Value Interpreter::lookup(const std::string &name) const
{
    for (auto scope = m_scopes.rbegin(); scope != m_scopes.rend(); ++scope) {
        const auto it = scope->find(name);
        if (it != scope->end())
            return it->second;
    }
    return undefined();
}

Value *Interpreter::find(const std::string &name)
{
    for (auto scope = m_scopes.rbegin(); scope != m_scopes.rend(); ++scope) {
        const auto it = scope->find(name);
        if (it != scope->end())
            return &it->second;
    }
    return nullptr;
}

void Interpreter::define(const std::string &name, Value value)
{
    m_scopes.back()[name] = std::move(value);
}

Interpreter::Flow Interpreter::run(const Body &body, std::string &out)
{
    if (++m_depth > kMaxDepth)
        throw RenderError{"the template nests too deeply"};
    struct DepthGuard {
        int &depth;
        ~DepthGuard() { --depth; }
    } guard{m_depth};

    for (const NodePtr &node : body) {
        switch (node->kind) {
        case Node::Kind::Text: out += node->text; break;
        case Node::Kind::Output: out += toText(evaluate(*node->expression)); break;
        case Node::Kind::If:
            for (const auto &[condition, branch] : node->branches) {
                if (!condition || isTrue(evaluate(*condition))) {
                    if (const Flow flow = run(branch, out); flow != Flow::Normal)
                        return flow;
                    break;
                }
            }
            break;
        case Node::Kind::For: {
            const Value iterable = evaluate(*node->expression);
            std::vector<Value> items;
            if (iterable.is_array()) {
                items.assign(iterable.begin(), iterable.end());
            } else if (iterable.is_object()) {
                for (const auto &entry : iterable.items())
                    items.emplace_back(entry.key());
            } else if (iterable.is_string()) {
                for (const std::string &c :
                     utf8::characters(iterable.get_ref<const std::string &>()))
                    items.emplace_back(c);
            } else if (!isUndefined(iterable) && !iterable.is_null()) {
                throw RenderError{"cannot loop over " + toRepr(iterable)};
            }
            auto bind = [&](const Value &item) {
                if (node->targets.size() == 1) {
                    define(node->targets[0], item);
                } else {
                    if (!item.is_array() || item.size() != node->targets.size())
                        throw RenderError{"cannot unpack " + toRepr(item) + " into "
                                          + std::to_string(node->targets.size()) + " variables"};
                    for (std::size_t i = 0; i < node->targets.size(); ++i)
                        define(node->targets[i], item[i]);
                }
            };
            m_scopes.emplace_back();
            if (node->filter) {
                std::vector<Value> kept;
                for (const Value &item : items) {
                    bind(item);
                    if (isTrue(evaluate(*node->filter)))
                        kept.push_back(item);
                }
                items = std::move(kept);
            }
            const std::int64_t length = std::int64_t(items.size());
            for (std::int64_t i = 0; i < length; ++i) {
                m_scopes.back().clear();
                bind(items[std::size_t(i)]);
                Value loop = {{"index", i + 1},         {"index0", i},
                              {"revindex", length - i}, {"revindex0", length - i - 1},
                              {"first", i == 0},        {"last", i == length - 1},
                              {"length", length}};
                loop["previtem"] = i > 0 ? items[std::size_t(i - 1)] : undefined();
                loop["nextitem"] = i + 1 < length ? items[std::size_t(i + 1)] : undefined();
                define("loop", loop);
                if (run(node->body, out) == Flow::Break)
                    break;
            }
            m_scopes.pop_back();
            if (items.empty() && !node->otherwise.empty()) {
                if (const Flow flow = run(node->otherwise, out); flow != Flow::Normal)
                    return flow;
            }
            break;
        }
        case Node::Kind::Set: {
            Value value = evaluate(*node->expression);
            if (node->targets.size() == 2) {
                Value *object = find(node->targets[0]);
                if (!object || !object->is_object())
                    throw RenderError{"cannot set an attribute of '" + node->targets[0] + "'"};
                (*object)[node->targets[1]] = std::move(value);
            } else {
                define(node->targets[0], std::move(value));
            }
            break;
        }
        case Node::Kind::SetBlock: {
            std::string captured;
            run(node->body, captured);
            define(node->targets[0], captured);
            break;
        }
        case Node::Kind::Macro: m_macros[node->name] = node.get(); break;
        case Node::Kind::Break: return Flow::Break;
        case Node::Kind::Continue: return Flow::Continue;
        }
    }
    return Flow::Normal;
}

Value Interpreter::callMacro(const Node &macro, const std::vector<Value> &arguments,
                             const std::map<std::string, Value> &keywords)
{
    m_scopes.emplace_back();
    for (std::size_t i = 0; i < macro.parameters.size(); ++i) {
        const auto &[name, fallback] = macro.parameters[i];
        const auto keyword = keywords.find(name);
        if (i < arguments.size())
            define(name, arguments[i]);
        else if (keyword != keywords.end())
            define(name, keyword->second);
        else
            define(name, fallback ? evaluate(*fallback) : undefined());
    }
    std::string out;
    run(macro.body, out);
    m_scopes.pop_back();
    return out;
}

void Interpreter::evaluateArguments(const Expression &e, std::vector<Value> &arguments,
                                    std::map<std::string, Value> &keywords)
{
    for (const ExpressionPtr &argument : e.items)
        arguments.push_back(evaluate(*argument));
    for (const auto &[name, value] : e.keywords)
        keywords[name] = evaluate(*value);
}

Value Interpreter::evaluate(const Expression &e)
{
    switch (e.kind) {
    case Expression::Kind::Literal: return e.value;
    case Expression::Kind::Variable: return lookup(e.name);
    case Expression::Kind::List:
    case Expression::Kind::Tuple: {
        Value list = Value::array();
        for (const ExpressionPtr &item : e.items)
            list.push_back(evaluate(*item));
        return list;
    }
    case Expression::Kind::Dict: {
        Value dict = Value::object();
        for (std::size_t i = 0; i + 1 < e.items.size(); i += 2)
            dict[toText(evaluate(*e.items[i]))] = evaluate(*e.items[i + 1]);
        return dict;
    }
    case Expression::Kind::Attribute: {
        const Value object = evaluate(*e.object);
        if (object.is_object()) {
            const auto it = object.find(e.name);
            return it == object.end() ? undefined() : *it;
        }
        return undefined();
    }
    case Expression::Kind::Subscript: {
        const Value object = evaluate(*e.object);
        const Value index = evaluate(*e.items[0]);
        if (object.is_object()) {
            const auto it = object.find(toText(index));
            return it == object.end() ? undefined() : *it;
        }
        if ((object.is_array() || object.is_string()) && isInteger(index)) {
            if (object.is_string()) {
                const auto characters = utf8::characters(object.get_ref<const std::string &>());
                const std::int64_t i =
                    normaliseIndex(asInteger(index), std::int64_t(characters.size()));
                return i >= 0 && i < std::int64_t(characters.size())
                           ? Value(characters[std::size_t(i)])
                           : undefined();
            }
            const std::int64_t i = normaliseIndex(asInteger(index), std::int64_t(object.size()));
            return i >= 0 && i < std::int64_t(object.size()) ? object[std::size_t(i)] : undefined();
        }
        return undefined();
    }
    case Expression::Kind::Slice: {
        auto part = [&](std::size_t i) {
            return e.items[i] ? evaluate(*e.items[i]) : Value(nullptr);
        };
        return sliceOf(evaluate(*e.object), part(0), part(1), part(2));
    }
    case Expression::Kind::Call: {
        std::vector<Value> arguments;
        std::map<std::string, Value> keywords;
        evaluateArguments(e, arguments, keywords);
        if (e.object->kind == Expression::Kind::Attribute)
            return callMethod(evaluate(*e.object->object), e.object->name, arguments, keywords);
        if (e.object->kind == Expression::Kind::Variable) {
            const auto macro = m_macros.find(e.object->name);
            if (macro != m_macros.end())
                return callMacro(*macro->second, arguments, keywords);
            return callFunction(e.object->name, arguments, keywords);
        }
        throw RenderError{"this expression cannot be called"};
    }
    case Expression::Kind::Filter:
    case Expression::Kind::Test: {
        std::vector<Value> arguments;
        std::map<std::string, Value> keywords;
        evaluateArguments(e, arguments, keywords);
        const Value object = evaluate(*e.object);
        if (e.kind == Expression::Kind::Filter)
            return callFilter(e.name, object, arguments, keywords);
        return callTest(e.name, object, arguments) != e.negated;
    }
    case Expression::Kind::Unary: {
        const Value value = evaluate(*e.object);
        if (e.name == "not")
            return !isTrue(value);
        if (!isNumber(value))
            throw RenderError{"unary " + e.name + " needs a number"};
        if (e.name == "+")
            return value;
        return isInteger(value) ? Value(-asInteger(value)) : Value(-asDouble(value));
    }
    case Expression::Kind::Binary: {
        if (e.name == "and") {
            const Value left = evaluate(*e.left);
            return isTrue(left) ? evaluate(*e.right) : left;
        }
        if (e.name == "or") {
            const Value left = evaluate(*e.left);
            return isTrue(left) ? left : evaluate(*e.right);
        }
        return binary(e.name, evaluate(*e.left), evaluate(*e.right));
    }
    case Expression::Kind::Conditional:
        if (isTrue(evaluate(*e.condition)))
            return evaluate(*e.left);
        return e.right ? evaluate(*e.right) : undefined();
    }
    return undefined();
}

Value Interpreter::binary(const std::string &op, const Value &left, const Value &right)
{
    if (op == "~")
        return toText(left) + toText(right);
    if (op == "==")
        return (isNumber(left) && isNumber(right)) ? asDouble(left) == asDouble(right)
                                                   : left == right;
    if (op == "!=")
        return !isTrue(binary("==", left, right));
    if (op == "in" || op == "not in") {
        bool found = false;
        if (right.is_string())
            found = right.get_ref<const std::string &>().find(toText(left)) != std::string::npos;
        else if (right.is_array())
            for (const Value &item : right)
                found = found || isTrue(binary("==", left, item));
        else if (right.is_object())
            found = left.is_string() && right.contains(left.get<std::string>());
        else
            throw RenderError{"'in' needs a string, list or dict on the right"};
        return op == "in" ? found : !found;
    }
    if (op == "+" && left.is_string() && right.is_string())
        return left.get<std::string>() + right.get<std::string>();
    if (op == "+" && left.is_array() && right.is_array()) {
        Value joined = left;
        for (const Value &item : right)
            joined.push_back(item);
        return joined;
    }
    if (op == "%" && left.is_string()) {
        // printf-style formatting: each %s, %d or %r takes the next value.
        const Value values = right.is_array() ? right : Value::array({right});
        const std::string &format = left.get_ref<const std::string &>();
        std::string out;
        std::size_t next = 0;
        for (std::size_t i = 0; i < format.size(); ++i) {
            if (format[i] != '%' || i + 1 >= format.size()) {
                out += format[i];
                continue;
            }
            const char spec = format[++i];
            if (spec == '%') {
                out += '%';
            } else if (spec == 's' || spec == 'd' || spec == 'r') {
                if (next >= values.size())
                    throw RenderError{"not enough values for the format string"};
                const Value &value = values[next++];
                out += spec == 'r' ? toRepr(value)
                       : spec == 'd' && value.is_number()
                           ? std::to_string(std::int64_t(value.get<double>()))
                           : toText(value);
            } else {
                throw RenderError{std::string("format '%") + spec + "' is not supported"};
            }
        }
        return out;
    }
    if (op == "*" && left.is_string() && isInteger(right)) {
        std::string repeated;
        for (std::int64_t i = 0; i < asInteger(right); ++i)
            repeated += left.get<std::string>();
        return repeated;
    }
    if (left.is_string() && right.is_string()) {
        const std::string &a = left.get_ref<const std::string &>(),
                          &b = right.get_ref<const std::string &>();
        if (auto result = ordered(op, a, b))
            return *result;
    }
    if (!isNumber(left) || !isNumber(right))
        throw RenderError{"unsupported operands for '" + op + "': " + toRepr(left) + " and "
                          + toRepr(right)};
    const double a = asDouble(left), b = asDouble(right);
    const bool integers = isInteger(left) && isInteger(right);
    if (auto result = ordered(op, a, b))
        return *result;
    if (op == "+")
        return integers ? Value(asInteger(left) + asInteger(right)) : Value(a + b);
    if (op == "-")
        return integers ? Value(asInteger(left) - asInteger(right)) : Value(a - b);
    if (op == "*")
        return integers ? Value(asInteger(left) * asInteger(right)) : Value(a * b);
    if ((op == "/" || op == "//" || op == "%") && b == 0)
        throw RenderError{"division by zero"};
    if (op == "/")
        return a / b;
    if (op == "//")
        return integers ? Value(std::int64_t(std::floor(a / b))) : Value(std::floor(a / b));
    if (op == "%") {
        if (integers) {
            const std::int64_t r = asInteger(left) % asInteger(right);
            return (r != 0 && ((r < 0) != (asInteger(right) < 0))) ? r + asInteger(right) : r;
        }
        return a - b * std::floor(a / b);
    }
    if (op == "**")
        return integers && b >= 0 ? Value(std::int64_t(std::llround(std::pow(a, b))))
                                  : Value(std::pow(a, b));
    throw RenderError{"unknown operator '" + op + "'"};
}

} // namespace corolla::jinja
