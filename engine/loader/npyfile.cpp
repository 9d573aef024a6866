#include "loader/npyfile.h"

#include <cstring>
#include <fstream>
#include <regex>

#include <ATen/ops/empty.h>

namespace corolla {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
}

Result<void> writeNpy(const std::string &path, const at::Tensor &tensor)
{
    const at::Tensor data = tensor.to(at::kCPU, at::kFloat).contiguous(); // from any device
    std::string shape = "(";
    for (std::int64_t dim : data.sizes())
        shape += std::to_string(dim) + ", ";
    if (data.dim() > 1)
        shape.resize(shape.size() - 2);
    else if (data.dim() == 1)
        shape.resize(shape.size() - 1);
    shape += ")";
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64
    // and ended by a newline.
    const std::size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';

    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out)
        return makeError(ErrorCode::Io, path + ": cannot create the file");
    out.write(kMagic, 6);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const unsigned char length[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                     static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char *>(length), 2);
    out.write(header.data(), std::streamsize(header.size()));
    out.write(static_cast<const char *>(data.data_ptr()), std::streamsize(data.nbytes()));
    if (!out.flush())
        return makeError(ErrorCode::Io, path + ": write failed");
    return {};
}

Result<at::Tensor> readNpy(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return makeError(ErrorCode::Io, path + ": cannot open the file");
    char prefix[10] = {};
    if (!in.read(prefix, 10) || std::memcmp(prefix, kMagic, 6) != 0 || prefix[6] != 1)
        return makeError(ErrorCode::Format, path + ": not a version 1 .npy file");
    const std::size_t headerSize = std::size_t(static_cast<unsigned char>(prefix[8]))
                                   | (std::size_t(static_cast<unsigned char>(prefix[9])) << 8);
    std::string header(headerSize, '\0');
    if (!in.read(header.data(), std::streamsize(headerSize)))
        return makeError(ErrorCode::Format, path + ": truncated header");
    if (header.find("'descr': '<f4'") == std::string::npos
        || header.find("'fortran_order': False") == std::string::npos)
        return makeError(ErrorCode::Unsupported,
                         path + ": only little-endian float32 C-order arrays");
    std::smatch match;
    if (!std::regex_search(header, match, std::regex(R"('shape': \(([0-9, ]*)\))")))
        return makeError(ErrorCode::Format, path + ": no shape in the header");
    std::vector<std::int64_t> shape;
    const std::string dims = match[1].str();
    const std::regex number("[0-9]+");
    for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
        shape.push_back(std::stoll(it->str()));
    at::Tensor tensor = at::empty(shape, at::kFloat);
    if (!in.read(static_cast<char *>(tensor.data_ptr()), std::streamsize(tensor.nbytes())))
        return makeError(ErrorCode::Format, path + ": data is shorter than the shape says");
    return tensor;
}

} // namespace corolla
