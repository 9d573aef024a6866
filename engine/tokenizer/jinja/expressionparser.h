#pragma once
// Recursive descent over the tokens of one tag, with Jinja's operator precedence:
// or < and < not < comparisons < + - < ~ < * / // % < ** < unary < postfix, filters, tests.
// Used only by the template parser. Thread: one parser per tag.

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace corolla::jinja {

class ExpressionParser {
public:
    explicit ExpressionParser(std::vector<Token> tokens)
        : m_tokens(std::move(tokens))
    {
    }

    bool atEnd() const { return peek().kind == Token::Kind::End; }
    const Token &peek(std::size_t ahead = 0) const
    {
        return m_tokens[std::min(m_position + ahead, m_tokens.size() - 1)];
    }
    bool isName(const char *name, std::size_t ahead = 0) const
    {
        return peek(ahead).kind == Token::Kind::Name && peek(ahead).text == name;
    }
    bool isOperator(const char *op) const
    {
        return peek().kind == Token::Kind::Operator && peek().text == op;
    }
    Token next() { return m_tokens[std::min(m_position++, m_tokens.size() - 1)]; }
    void expectOperator(const char *op)
    {
        if (!isOperator(op))
            throw ParseError{std::string("expected '") + op + "' but found '" + peek().text + "'"};
        ++m_position;
    }
    std::string expectName()
    {
        if (peek().kind != Token::Kind::Name)
            throw ParseError{"expected a name but found '" + peek().text + "'"};
        return next().text;
    }
    void expectEnd()
    {
        if (!atEnd())
            throw ParseError{"unexpected '" + peek().text + "'"};
    }

    // An expression without the trailing `if ... else`, for `for x in items if cond`.
    ExpressionPtr parseOrOnly() { return parseOr(); }

    ExpressionPtr parseExpression()
    {
        ExpressionPtr value = parseOr();
        if (isName("if")) {
            ++m_position;
            auto node = make(Expression::Kind::Conditional);
            node->left = value;
            node->condition = parseOr();
            if (isName("else")) {
                ++m_position;
                node->right = parseExpression();
            }
            return node;
        }
        return value;
    }

    // An expression, or a bare tuple `a, b` as in `for k, v in ...` or `set a = 1, 2`.
    ExpressionPtr parseTupleOrExpression()
    {
        ExpressionPtr first = parseExpression();
        if (!isOperator(","))
            return first;
        auto tuple = make(Expression::Kind::Tuple);
        tuple->items.push_back(first);
        while (isOperator(",")) {
            ++m_position;
            if (atEnd())
                break;
            tuple->items.push_back(parseExpression());
        }
        return tuple;
    }

private:
    static std::shared_ptr<Expression> make(Expression::Kind kind)
    {
        auto node = std::make_shared<Expression>();
        node->kind = kind;
        return node;
    }
    static ExpressionPtr binary(const std::string &op, ExpressionPtr left, ExpressionPtr right)
    {
        auto node = make(Expression::Kind::Binary);
        node->name = op;
        node->left = std::move(left);
        node->right = std::move(right);
        return node;
    }

    ExpressionPtr parseOr()
    {
        ExpressionPtr left = parseAnd();
        while (isName("or")) {
            ++m_position;
            left = binary("or", left, parseAnd());
        }
        return left;
    }
    ExpressionPtr parseAnd()
    {
        ExpressionPtr left = parseNot();
        while (isName("and")) {
            ++m_position;
            left = binary("and", left, parseNot());
        }
        return left;
    }
    ExpressionPtr parseNot()
    {
        if (isName("not")) {
            ++m_position;
            auto node = make(Expression::Kind::Unary);
            node->name = "not";
            node->object = parseNot();
            return node;
        }
        return parseCompare();
    }
    ExpressionPtr parseCompare()
    {
        ExpressionPtr left = parseMath1();
        for (;;) {
            if (peek().kind == Token::Kind::Operator
                && (peek().text == "==" || peek().text == "!=" || peek().text == "<"
                    || peek().text == "<=" || peek().text == ">" || peek().text == ">=")) {
                const std::string op = next().text;
                left = binary(op, left, parseMath1());
            } else if (isName("in")) {
                ++m_position;
                left = binary("in", left, parseMath1());
            } else if (isName("not") && isName("in", 1)) {
                m_position += 2;
                left = binary("not in", left, parseMath1());
            } else {
                return left;
            }
        }
    }
    ExpressionPtr parseMath1()
    {
        ExpressionPtr left = parseConcat();
        while (isOperator("+") || isOperator("-")) {
            const std::string op = next().text;
            left = binary(op, left, parseConcat());
        }
        return left;
    }
    ExpressionPtr parseConcat()
    {
        ExpressionPtr left = parseMath2();
        while (isOperator("~")) {
            ++m_position;
            left = binary("~", left, parseMath2());
        }
        return left;
    }
    ExpressionPtr parseMath2()
    {
        ExpressionPtr left = parsePow();
        while (isOperator("*") || isOperator("/") || isOperator("//") || isOperator("%")) {
            const std::string op = next().text;
            left = binary(op, left, parsePow());
        }
        return left;
    }
    ExpressionPtr parsePow()
    {
        ExpressionPtr left = parseUnary();
        while (isOperator("**")) {
            ++m_position;
            left = binary("**", left, parseUnary());
        }
        return left;
    }
    ExpressionPtr parseUnary()
    {
        if (isOperator("-") || isOperator("+")) {
            auto node = make(Expression::Kind::Unary);
            node->name = next().text;
            node->object = parseUnary();
            return node;
        }
        return parseFilters(parsePostfix(parsePrimary()));
    }

    void parseArguments(std::vector<ExpressionPtr> &items,
                        std::vector<std::pair<std::string, ExpressionPtr>> &keywords)
    {
        expectOperator("(");
        while (!isOperator(")")) {
            if (peek().kind == Token::Kind::Name && peek(1).kind == Token::Kind::Operator
                && peek(1).text == "=") {
                const std::string name = next().text;
                ++m_position;
                keywords.emplace_back(name, parseExpression());
            } else {
                items.push_back(parseExpression());
            }
            if (!isOperator(","))
                break;
            ++m_position;
        }
        expectOperator(")");
    }

    ExpressionPtr parsePrimary()
    {
        const Token token = next();
        switch (token.kind) {
        case Token::Kind::Number:
        case Token::Kind::String: {
            auto node = make(Expression::Kind::Literal);
            node->value = token.value;
            // Adjacent string literals concatenate, as in Python.
            while (token.kind == Token::Kind::String && peek().kind == Token::Kind::String)
                node->value = node->value.get<std::string>() + next().text;
            return node;
        }
        case Token::Kind::Name: {
            if (token.text == "true" || token.text == "True" || token.text == "false"
                || token.text == "False") {
                auto node = make(Expression::Kind::Literal);
                node->value = token.text == "true" || token.text == "True";
                return node;
            }
            if (token.text == "none" || token.text == "None") {
                auto node = make(Expression::Kind::Literal);
                node->value = nullptr;
                return node;
            }
            auto node = make(Expression::Kind::Variable);
            node->name = token.text;
            return node;
        }
        case Token::Kind::Operator:
            if (token.text == "(") {
                ExpressionPtr inner = parseTupleOrExpression();
                expectOperator(")");
                return inner;
            }
            if (token.text == "[") {
                auto node = make(Expression::Kind::List);
                while (!isOperator("]")) {
                    node->items.push_back(parseExpression());
                    if (!isOperator(","))
                        break;
                    ++m_position;
                }
                expectOperator("]");
                return node;
            }
            if (token.text == "{") {
                auto node = make(Expression::Kind::Dict);
                while (!isOperator("}")) {
                    node->items.push_back(parseExpression());
                    expectOperator(":");
                    node->items.push_back(parseExpression());
                    if (!isOperator(","))
                        break;
                    ++m_position;
                }
                expectOperator("}");
                return node;
            }
            break;
        case Token::Kind::End: throw ParseError{"unexpected end of expression"};
        }
        throw ParseError{"unexpected '" + token.text + "'"};
    }

    ExpressionPtr parsePostfix(ExpressionPtr object)
    {
        for (;;) {
            if (isOperator(".")) {
                ++m_position;
                auto node = make(Expression::Kind::Attribute);
                node->object = object;
                node->name = peek().kind == Token::Kind::Number ? next().text : expectName();
                object = node;
            } else if (isOperator("[")) {
                ++m_position;
                ExpressionPtr parts[3];
                int part = 0;
                bool isSlice = false;
                while (!isOperator("]")) {
                    if (isOperator(":")) {
                        ++m_position;
                        isSlice = true;
                        if (++part > 2)
                            throw ParseError{"too many ':' in a slice"};
                        continue;
                    }
                    parts[part] = parseExpression();
                }
                expectOperator("]");
                auto node = make(isSlice ? Expression::Kind::Slice : Expression::Kind::Subscript);
                node->object = object;
                node->items = {parts[0], parts[1], parts[2]};
                if (!isSlice && !parts[0])
                    throw ParseError{"empty subscript"};
                object = node;
            } else if (isOperator("(")) {
                auto node = make(Expression::Kind::Call);
                node->object = object;
                parseArguments(node->items, node->keywords);
                object = node;
            } else {
                return object;
            }
        }
    }

    ExpressionPtr parseFilters(ExpressionPtr object)
    {
        for (;;) {
            if (isOperator("|")) {
                ++m_position;
                auto node = make(Expression::Kind::Filter);
                node->object = object;
                node->name = expectName();
                if (isOperator("("))
                    parseArguments(node->items, node->keywords);
                object = node;
            } else if (isName("is")) {
                ++m_position;
                auto node = make(Expression::Kind::Test);
                node->object = object;
                if (isName("not")) {
                    ++m_position;
                    node->negated = true;
                }
                node->name = expectName();
                if (isOperator("(")) {
                    parseArguments(node->items, node->keywords);
                } else if (!atEnd() && !isName("and") && !isName("or") && !isName("else")
                           && !isName("if") && peek().kind != Token::Kind::Operator) {
                    node->items.push_back(parsePrimary()); // `is divisibleby 3`, `is equalto 'x'`
                }
                object = node;
            } else {
                return object;
            }
        }
    }

    std::vector<Token> m_tokens;
    std::size_t m_position = 0;
};

} // namespace corolla::jinja
