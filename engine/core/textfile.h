#pragma once
// Reads a whole small file (a config, an index, a tokenizer) into memory.
// Thread: any.

#include <string>

#include "core/result.h"

namespace corolla {

// The bytes of `path`; a NotFound error naming the path when it cannot be opened.
Result<std::string> readTextFile(const std::string &path);

} // namespace corolla
