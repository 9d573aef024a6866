#include "tokenizer/jinja/parser.h"

#include <cctype>

namespace corolla::jinja {

namespace {

struct Token {
    enum class Kind { Name, Number, String, Operator, End };
    Kind kind = Kind::End;
    std::string text;
    Value value;
};

class ParseError {
public:
    std::string message;
};

// Splits the inside of a tag into tokens.
std::vector<Token> lexExpression(const std::string &source)
{
    std::vector<Token> tokens;
    std::size_t i = 0;
    const std::size_t n = source.size();
    static const char *operators[] = {"==", "!=", "<=", ">=", "//", "**", "<", ">", "+", "-", "*", "/",
                                      "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "="};
    while (i < n) {
        const char c = source[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t j = i;
            while (j < n && (std::isalnum(static_cast<unsigned char>(source[j])) || source[j] == '_'))
                ++j;
            tokens.push_back({Token::Kind::Name, source.substr(i, j - i), {}});
            i = j;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            std::size_t j = i;
            bool isFloat = false;
            while (j < n && (std::isdigit(static_cast<unsigned char>(source[j])) || source[j] == '_'
                             || (source[j] == '.' && !isFloat && j + 1 < n && std::isdigit(static_cast<unsigned char>(source[j + 1]))))) {
                isFloat = isFloat || source[j] == '.';
                ++j;
            }
            std::string digits;
            for (std::size_t k = i; k < j; ++k)
                if (source[k] != '_')
                    digits += source[k];
            Token token{Token::Kind::Number, digits, {}};
            token.value = isFloat ? Value(std::stod(digits)) : Value(std::stoll(digits));
            tokens.push_back(token);
            i = j;
        } else if (c == '\'' || c == '"') {
            std::string text;
            std::size_t j = i + 1;
            for (; j < n && source[j] != c; ++j) {
                if (source[j] == '\\' && j + 1 < n) {
                    const char e = source[++j];
                    switch (e) {
                    case 'n': text += '\n'; break;
                    case 't': text += '\t'; break;
                    case 'r': text += '\r'; break;
                    case '\\': text += '\\'; break;
                    case '\'': text += '\''; break;
                    case '"': text += '"'; break;
                    default: text += '\\'; text += e; break;
                    }
                } else {
                    text += source[j];
                }
            }
            if (j >= n)
                throw ParseError{"unterminated string literal"};
            tokens.push_back({Token::Kind::String, text, Value(text)});
            i = j + 1;
        } else {
            bool matched = false;
            for (const char *op : operators) {
                const std::size_t length = std::char_traits<char>::length(op);
                if (source.compare(i, length, op) == 0) {
                    tokens.push_back({Token::Kind::Operator, op, {}});
                    i += length;
                    matched = true;
                    break;
                }
            }
            if (!matched)
                throw ParseError{std::string("unexpected character '") + c + "'"};
        }
    }
    tokens.push_back({Token::Kind::End, "", {}});
    return tokens;
}

// Recursive descent over one tag's tokens, with Jinja's operator precedence.
class ExpressionParser {
public:
    explicit ExpressionParser(std::vector<Token> tokens) : m_tokens(std::move(tokens)) {}

    bool atEnd() const { return peek().kind == Token::Kind::End; }
    const Token &peek(std::size_t ahead = 0) const
    {
        return m_tokens[std::min(m_position + ahead, m_tokens.size() - 1)];
    }
    bool isName(const char *name, std::size_t ahead = 0) const
    {
        return peek(ahead).kind == Token::Kind::Name && peek(ahead).text == name;
    }
    bool isOperator(const char *op) const { return peek().kind == Token::Kind::Operator && peek().text == op; }
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
                && (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == "<="
                    || peek().text == ">" || peek().text == ">=")) {
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

    void parseArguments(std::vector<ExpressionPtr> &items, std::vector<std::pair<std::string, ExpressionPtr>> &keywords)
    {
        expectOperator("(");
        while (!isOperator(")")) {
            if (peek().kind == Token::Kind::Name && peek(1).kind == Token::Kind::Operator && peek(1).text == "=") {
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
            if (token.text == "true" || token.text == "True" || token.text == "false" || token.text == "False") {
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
        case Token::Kind::End:
            throw ParseError{"unexpected end of expression"};
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
                } else if (!atEnd() && !isName("and") && !isName("or") && !isName("else") && !isName("if")
                           && peek().kind != Token::Kind::Operator) {
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

struct Tag {
    enum class Kind { Text, Output, Statement } kind;
    std::string content;
};

// Cuts the source into text, {{ }} and {% %} pieces, applying whitespace control,
// trim_blocks and lstrip_blocks; comments disappear.
std::vector<Tag> splitTags(const std::string &source)
{
    std::vector<Tag> tags;
    std::size_t position = 0;
    bool stripNextText = false;   // a `-` closed the previous tag
    bool trimNextNewline = false; // trim_blocks after a block or comment tag
    while (position <= source.size()) {
        const std::size_t open = source.find('{', position);
        std::size_t tagStart = std::string::npos;
        for (std::size_t at = open; at != std::string::npos && at + 1 < source.size(); at = source.find('{', at + 1)) {
            const char kind = source[at + 1];
            if (kind == '{' || kind == '%' || kind == '#') {
                tagStart = at;
                break;
            }
        }
        std::string text = source.substr(position, tagStart == std::string::npos ? std::string::npos : tagStart - position);
        if (trimNextNewline && !text.empty() && text.front() == '\n')
            text.erase(0, 1);
        if (stripNextText) {
            const std::size_t first = text.find_first_not_of(" \t\r\n");
            text.erase(0, first == std::string::npos ? text.size() : first);
        }
        if (tagStart == std::string::npos) {
            if (!text.empty())
                tags.push_back({Tag::Kind::Text, text});
            break;
        }
        const char kind = source[tagStart + 1];
        const bool stripBefore = tagStart + 2 < source.size() && source[tagStart + 2] == '-';
        const bool keepBefore = tagStart + 2 < source.size() && source[tagStart + 2] == '+';
        if (stripBefore) {
            const std::size_t last = text.find_last_not_of(" \t\r\n");
            text.erase(last == std::string::npos ? 0 : last + 1);
        } else if ((kind == '%' || kind == '#') && !keepBefore) {
            // lstrip_blocks: spaces and tabs between a line start and a block tag go.
            std::size_t runStart = tagStart;
            while (runStart > 0 && (source[runStart - 1] == ' ' || source[runStart - 1] == '\t'))
                --runStart;
            if (runStart == 0 || source[runStart - 1] == '\n')
                text.erase(text.size() - std::min(tagStart - runStart, text.size()));
        }
        if (!text.empty())
            tags.push_back({Tag::Kind::Text, text});

        const std::string closing = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
        const std::size_t contentStart = tagStart + 2 + ((stripBefore || keepBefore) ? 1 : 0);
        const std::size_t close = source.find(closing, contentStart);
        if (close == std::string::npos)
            throw ParseError{"a tag opened with '{" + std::string(1, kind) + "' is never closed"};
        const bool stripAfter = close > contentStart && source[close - 1] == '-';
        std::string content = source.substr(contentStart, close - contentStart - (stripAfter ? 1 : 0));
        if (kind == '{')
            tags.push_back({Tag::Kind::Output, content});
        else if (kind == '%')
            tags.push_back({Tag::Kind::Statement, content});
        position = close + 2;
        stripNextText = stripAfter;
        trimNextNewline = kind != '{';
    }
    return tags;
}

// Builds the tree from the tags, matching block statements with their ends.
class TreeBuilder {
public:
    explicit TreeBuilder(std::vector<Tag> tags) : m_tags(std::move(tags)) {}

    Body parseBody(const std::vector<std::string> &terminators, std::string &endedBy, ExpressionParser *&endTag)
    {
        Body body;
        while (m_index < m_tags.size()) {
            const Tag &tag = m_tags[m_index++];
            if (tag.kind == Tag::Kind::Text) {
                auto node = std::make_shared<Node>();
                node->kind = Node::Kind::Text;
                node->text = tag.content;
                body.push_back(node);
                continue;
            }
            m_parsers.push_back(std::make_unique<ExpressionParser>(lexExpression(tag.content)));
            ExpressionParser &parser = *m_parsers.back();
            if (tag.kind == Tag::Kind::Output) {
                auto node = std::make_shared<Node>();
                node->kind = Node::Kind::Output;
                node->expression = parser.parseExpression();
                parser.expectEnd();
                body.push_back(node);
                continue;
            }
            const std::string keyword = parser.expectName();
            for (const std::string &terminator : terminators) {
                if (keyword == terminator) {
                    endedBy = keyword;
                    endTag = &parser;
                    return body;
                }
            }
            body.push_back(parseStatement(keyword, parser));
        }
        if (!terminators.empty())
            throw ParseError{"missing {% " + terminators.back() + " %}"};
        return body;
    }

private:
    NodePtr parseStatement(const std::string &keyword, ExpressionParser &parser)
    {
        auto node = std::make_shared<Node>();
        std::string endedBy;
        ExpressionParser *endTag = nullptr;
        if (keyword == "if") {
            node->kind = Node::Kind::If;
            ExpressionPtr condition = parser.parseExpression();
            parser.expectEnd();
            for (;;) {
                Body branch = parseBody({"elif", "else", "endif"}, endedBy, endTag);
                node->branches.emplace_back(condition, std::move(branch));
                if (endedBy == "endif")
                    break;
                if (endedBy == "else") {
                    endTag->expectEnd();
                    node->branches.emplace_back(nullptr, parseBody({"endif"}, endedBy, endTag));
                    break;
                }
                condition = endTag->parseExpression();
                endTag->expectEnd();
            }
            return node;
        }
        if (keyword == "for") {
            node->kind = Node::Kind::For;
            node->targets.push_back(parser.expectName());
            while (parser.isOperator(",")) {
                parser.next();
                node->targets.push_back(parser.expectName());
            }
            if (!parser.isName("in"))
                throw ParseError{"expected 'in' in a for loop"};
            parser.next();
            node->expression = parser.parseOrOnly();
            if (parser.isName("if")) {
                parser.next();
                node->filter = parser.parseExpression();
            }
            if (parser.isName("recursive"))
                throw ParseError{"recursive loops are not supported"};
            parser.expectEnd();
            node->body = parseBody({"else", "endfor"}, endedBy, endTag);
            if (endedBy == "else")
                node->otherwise = parseBody({"endfor"}, endedBy, endTag);
            return node;
        }
        if (keyword == "set") {
            node->targets.push_back(parser.expectName());
            if (parser.isOperator(".")) {
                parser.next();
                node->targets.push_back(parser.expectName());
            }
            if (parser.isOperator("=")) {
                parser.next();
                node->kind = Node::Kind::Set;
                node->expression = parser.parseTupleOrExpression();
                parser.expectEnd();
                return node;
            }
            parser.expectEnd();
            node->kind = Node::Kind::SetBlock;
            node->body = parseBody({"endset"}, endedBy, endTag);
            return node;
        }
        if (keyword == "macro") {
            node->kind = Node::Kind::Macro;
            node->name = parser.expectName();
            parser.expectOperator("(");
            while (!parser.isOperator(")")) {
                const std::string name = parser.expectName();
                ExpressionPtr fallback;
                if (parser.isOperator("=")) {
                    parser.next();
                    fallback = parser.parseExpression();
                }
                node->parameters.emplace_back(name, fallback);
                if (!parser.isOperator(","))
                    break;
                parser.next();
            }
            parser.expectOperator(")");
            parser.expectEnd();
            node->body = parseBody({"endmacro"}, endedBy, endTag);
            return node;
        }
        if (keyword == "break" || keyword == "continue") {
            parser.expectEnd();
            node->kind = keyword == "break" ? Node::Kind::Break : Node::Kind::Continue;
            return node;
        }
        if (keyword == "generation") {
            // transformers' assistant-mask marker: rendering ignores it.
            parser.expectEnd();
            node->kind = Node::Kind::If;
            auto always = std::make_shared<Expression>();
            always->value = true;
            node->branches.emplace_back(always, parseBody({"endgeneration"}, endedBy, endTag));
            return node;
        }
        throw ParseError{"the statement '{% " + keyword + " %}' is not supported"};
    }

    std::vector<Tag> m_tags;
    std::size_t m_index = 0;
    std::vector<std::unique_ptr<ExpressionParser>> m_parsers;
};

} // namespace

Result<Body> parseTemplate(const std::string &source)
{
    try {
        TreeBuilder builder(splitTags(source));
        std::string endedBy;
        ExpressionParser *endTag = nullptr;
        return builder.parseBody({}, endedBy, endTag);
    } catch (const ParseError &error) {
        return makeError(ErrorCode::Format, "chat template: " + error.message);
    } catch (const std::exception &error) {
        return makeError(ErrorCode::Format, std::string("chat template: ") + error.what());
    }
}

} // namespace corolla::jinja
