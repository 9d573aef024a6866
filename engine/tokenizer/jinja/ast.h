#pragma once
// The syntax tree of the Jinja subset that chat templates use.
// Thread: immutable after parsing; shared by any number of renders.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace corolla::jinja {

using Value = nlohmann::ordered_json;

struct Expression;
using ExpressionPtr = std::shared_ptr<const Expression>;

struct Expression {
    enum class Kind {
        Literal,     // value
        Variable,    // name
        List,        // items
        Tuple,       // items
        Dict,        // items as key, value pairs
        Attribute,   // object.name
        Subscript,   // object[index]
        Slice,       // object[start:stop:step] (items may hold null pointers)
        Call,        // callee(arguments, keyword arguments)
        Filter,      // object | name(arguments)
        Test,        // object is [not] name(arguments)
        Unary,       // op object
        Binary,      // left op right
        Conditional, // then if condition else otherwise
    };
    Kind kind = Kind::Literal;
    Value value;               // Literal
    std::string name;          // Variable, Attribute, Filter, Test, Unary/Binary operator
    ExpressionPtr object;      // Attribute, Subscript, Slice, Call callee, Filter, Test, Unary
    ExpressionPtr left, right; // Binary; Conditional: left = then, right = otherwise
    ExpressionPtr condition;   // Conditional
    std::vector<ExpressionPtr>
        items; // List, Tuple, Dict (key, value, ...), Subscript index, arguments
    std::vector<std::pair<std::string, ExpressionPtr>> keywords; // Call, Filter, Test
    bool negated = false;                                        // Test with `is not`
};

struct Node;
using NodePtr = std::shared_ptr<const Node>;
using Body = std::vector<NodePtr>;

struct Node {
    enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue };
    Kind kind = Kind::Text;
    std::string text;                                     // Text
    ExpressionPtr expression;                             // Output, Set value, For iterable
    std::vector<std::pair<ExpressionPtr, Body>> branches; // If: condition (null for else) and body
    std::vector<std::string> targets; // For loop variables; Set: variable (+ attribute)
    ExpressionPtr filter;             // For ... if filter
    Body body, otherwise;             // For body / else; SetBlock, Macro body
    std::string name;                 // Macro
    std::vector<std::pair<std::string, ExpressionPtr>> parameters; // Macro (default may be null)
};

} // namespace corolla::jinja
