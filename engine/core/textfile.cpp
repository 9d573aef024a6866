#include "core/textfile.h"

#include <fstream>
#include <sstream>

namespace corolla {

Result<std::string> readTextFile(const std::string &path)
{
    std::ifstream stream(path, std::ios::binary);
    if (!stream)
        return makeError(ErrorCode::NotFound, path + ": cannot open the file");
    std::ostringstream text;
    text << stream.rdbuf();
    if (stream.bad())
        return makeError(ErrorCode::Io, path + ": read failed");
    return text.str();
}

} // namespace corolla
