#pragma once
// Values of the Jinja interpreter (JSON values plus "undefined") and their Python-style
// conversions: str(), repr() and json.dumps() as transformers' tojson calls it.
// Thread: any.

#include <string>

#include "tokenizer/jinja/ast.h"

namespace corolla::jinja {

Value undefined();
bool isUndefined(const Value &value);
// Python truthiness; undefined is false.
bool isTrue(const Value &value);
// What {{ value }} prints: Python str(); undefined prints nothing.
std::string toText(const Value &value);
// Python repr() of strings, numbers, lists and dicts.
std::string toRepr(const Value &value);
// json.dumps(value, ensure_ascii=False, indent=indent), indent < 0 meaning none.
std::string toJson(const Value &value, int indent);
// Python's repr of a float: the shortest text that reads back the same, always with a
// decimal point or exponent.
std::string formatFloat(double value);

} // namespace corolla::jinja
