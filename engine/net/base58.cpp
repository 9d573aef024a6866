#include "net/base58.h"

#include <algorithm>
#include <array>
#include <vector>

namespace corolla {

namespace {

constexpr std::string_view kAlphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

} // namespace

std::string base58Encode(std::string_view bytes)
{
    std::size_t zeros = 0;
    while (zeros < bytes.size() && bytes[zeros] == 0)
        ++zeros;
    // Repeated division of the big-endian number by 58, digits least significant first.
    std::vector<unsigned char> digits;
    digits.reserve(bytes.size() * 138 / 100 + 1);
    for (std::size_t i = zeros; i < bytes.size(); ++i) {
        unsigned carry = static_cast<unsigned char>(bytes[i]);
        for (unsigned char &digit : digits) {
            carry += unsigned(digit) << 8;
            digit = static_cast<unsigned char>(carry % 58);
            carry /= 58;
        }
        while (carry > 0) {
            digits.push_back(static_cast<unsigned char>(carry % 58));
            carry /= 58;
        }
    }
    std::string text(zeros, '1');
    for (auto it = digits.rbegin(); it != digits.rend(); ++it)
        text.push_back(kAlphabet[*it]);
    return text;
}

std::optional<std::string> base58Decode(std::string_view text)
{
    std::array<int, 256> values;
    values.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i)
        values[static_cast<unsigned char>(kAlphabet[i])] = int(i);

    std::size_t ones = 0;
    while (ones < text.size() && text[ones] == '1')
        ++ones;
    std::vector<unsigned char> bytes; // least significant first
    for (std::size_t i = ones; i < text.size(); ++i) {
        const int value = values[static_cast<unsigned char>(text[i])];
        if (value < 0)
            return std::nullopt;
        unsigned carry = unsigned(value);
        for (unsigned char &byte : bytes) {
            carry += unsigned(byte) * 58;
            byte = static_cast<unsigned char>(carry & 0xff);
            carry >>= 8;
        }
        while (carry > 0) {
            bytes.push_back(static_cast<unsigned char>(carry & 0xff));
            carry >>= 8;
        }
    }
    std::string result(ones, '\0');
    for (auto it = bytes.rbegin(); it != bytes.rend(); ++it)
        result.push_back(static_cast<char>(*it));
    return result;
}

} // namespace corolla
