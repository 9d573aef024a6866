#include "tokenizer/jinja/parser.h"

#include "tokenizer/jinja/expressionparser.h"
#include "tokenizer/jinja/lexer.h"

namespace corolla::jinja {

namespace {

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
        for (std::size_t at = open; at != std::string::npos && at + 1 < source.size();
             at = source.find('{', at + 1)) {
            const char kind = source[at + 1];
            if (kind == '{' || kind == '%' || kind == '#') {
                tagStart = at;
                break;
            }
        }
        std::string text = source.substr(
            position, tagStart == std::string::npos ? std::string::npos : tagStart - position);
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
        std::string content =
            source.substr(contentStart, close - contentStart - (stripAfter ? 1 : 0));
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
    explicit TreeBuilder(std::vector<Tag> tags)
        : m_tags(std::move(tags))
    {
    }

    Body parseBody(const std::vector<std::string> &terminators, std::string &endedBy,
                   ExpressionParser *&endTag)
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
