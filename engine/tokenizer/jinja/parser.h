#pragma once
// Parses a Jinja template into a tree, with Hugging Face's settings: trim_blocks,
// lstrip_blocks and the loop controls. Unsupported constructs are errors that name them.
// Thread: any.

#include <string>

#include "core/result.h"
#include "tokenizer/jinja/ast.h"

namespace corolla::jinja {

Result<Body> parseTemplate(const std::string &source);

} // namespace corolla::jinja
