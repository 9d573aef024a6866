#pragma once
// Renders a parsed template: scopes, loops with `loop`, namespaces, macros, filters, tests
// and the methods of strings, lists and dicts that chat templates call.
// Thread: one render per Interpreter; parsed trees are shared read-only.

#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "tokenizer/jinja/ast.h"

namespace corolla::jinja {

// Thrown inside the interpreter and turned into an Error by render().
struct RenderError {
    std::string message;
};

class Interpreter {
public:
    // Renders `body` with the variables of `context` (a JSON object).
    Result<std::string> render(const Body &body, const Value &context);

    // Entry points of filters.cpp, tests.cpp and methods.cpp.
    Value callFilter(const std::string &name, const Value &value,
                     const std::vector<Value> &arguments,
                     const std::map<std::string, Value> &keywords);
    bool callTest(const std::string &name, const Value &value, const std::vector<Value> &arguments);
    Value callMethod(const Value &object, const std::string &name,
                     const std::vector<Value> &arguments,
                     const std::map<std::string, Value> &keywords);
    Value callFunction(const std::string &name, const std::vector<Value> &arguments,
                       const std::map<std::string, Value> &keywords);

private:
    enum class Flow { Normal, Break, Continue };
    Flow run(const Body &body, std::string &out);
    Value evaluate(const Expression &expression);
    // The positional and keyword arguments of a call, filter or test.
    void evaluateArguments(const Expression &expression, std::vector<Value> &arguments,
                           std::map<std::string, Value> &keywords);
    Value binary(const std::string &op, const Value &left, const Value &right);
    Value lookup(const std::string &name) const;
    void define(const std::string &name, Value value);
    Value *find(const std::string &name);
    Value callMacro(const Node &macro, const std::vector<Value> &arguments,
                    const std::map<std::string, Value> &keywords);

    std::vector<std::map<std::string, Value>> m_scopes;
    std::map<std::string, const Node *> m_macros;
    int m_depth = 0;
};

} // namespace corolla::jinja
