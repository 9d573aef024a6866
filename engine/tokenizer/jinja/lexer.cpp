#include "tokenizer/jinja/lexer.h"

#include <cctype>

#include "tokenizer/utf8.h"

namespace corolla::jinja {

std::vector<Token> lexExpression(const std::string &source)
{
    std::vector<Token> tokens;
    std::size_t i = 0;
    const std::size_t n = source.size();
    static const char *operators[] = {"==", "!=", "<=", ">=", "//", "**", "<", ">", "+",
                                      "-",  "*",  "/",  "%",  "~",  "|",  ".", ",", ":",
                                      "(",  ")",  "[",  "]",  "{",  "}",  "="};
    while (i < n) {
        const char c = source[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t j = i;
            while (j < n
                   && (std::isalnum(static_cast<unsigned char>(source[j])) || source[j] == '_'))
                ++j;
            tokens.push_back({Token::Kind::Name, source.substr(i, j - i), {}});
            i = j;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            std::size_t j = i;
            bool isFloat = false;
            while (j < n
                   && (std::isdigit(static_cast<unsigned char>(source[j])) || source[j] == '_'
                       || (source[j] == '.' && !isFloat && j + 1 < n
                           && std::isdigit(static_cast<unsigned char>(source[j + 1]))))) {
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
                    case 'u':
                    case 'x': {
                        // \uXXXX and \xXX, as Python's unicode-escape reads them.
                        const std::size_t digits = e == 'u' ? 4 : 2;
                        if (j + digits >= n)
                            throw ParseError{"truncated \\" + std::string(1, e) + " escape"};
                        const std::string hex = source.substr(j + 1, digits);
                        if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
                            throw ParseError{"invalid \\" + std::string(1, e) + " escape"};
                        text += utf8::encode(char32_t(std::stoul(hex, nullptr, 16)));
                        j += digits;
                        break;
                    }
                    default:
                        text += '\\';
                        text += e;
                        break;
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

} // namespace corolla::jinja
