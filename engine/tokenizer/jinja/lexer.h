#pragma once
// Splits the inside of a Jinja tag ({{ ... }} or {% ... %}) into tokens.
// Thread: any.

#include <string>
#include <vector>

#include "tokenizer/jinja/ast.h"

namespace corolla::jinja {

struct Token {
    enum class Kind { Name, Number, String, Operator, End };
    Kind kind = Kind::End;
    std::string text;
    Value value;
};

// Thrown while parsing; parseTemplate() turns it into an Error.
struct ParseError {
    std::string message;
};

std::vector<Token> lexExpression(const std::string &source);

} // namespace corolla::jinja
