#include "random.hpp"
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <sys/random.h>
#include <vector>

namespace jgather::detail {
namespace {

// Fills @p out from the kernel CSPRNG; getrandom() only returns short for > 256-byte requests
// or on EINTR, both handled by looping.
void fill_random(std::uint8_t* out, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t got = getrandom(out + done, size - done, 0);
        if (got > 0) {
            done += static_cast<std::size_t>(got);
        } else if (got < 0 && errno != EINTR) {
            // No entropy source at all is not recoverable and must not yield guessable
            // credentials.
            std::abort();
        }
    }
}

// Maps bytes onto an alphabet whose size divides 256, so every character is equally likely.
std::string random_from(std::string_view alphabet, std::size_t length) {
    std::vector<std::uint8_t> bytes(length);
    fill_random(bytes.data(), bytes.size());
    std::string out;
    out.reserve(length);
    for (std::uint8_t b : bytes) {
        out.push_back(alphabet[b % alphabet.size()]);
    }
    return out;
}

} // namespace

std::string random_ice_chars(std::size_t length) {
    // 64 symbols: 6 bits each, no modulo bias.
    static constexpr std::string_view kIceChars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return random_from(kIceChars, length);
}

std::string random_alnum(std::size_t length) {
    // 32 symbols (5 bits each) so that 256 % 32 == 0: no modulo bias.
    static constexpr std::string_view kChars = "abcdefghijkmnpqrstuvwxyz23456789";
    return random_from(kChars, length);
}

} // namespace jgather::detail
