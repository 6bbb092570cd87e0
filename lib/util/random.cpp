#include "random.hpp"
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string_view>
#include <sys/random.h>

namespace jgather::detail {
namespace {

// Reads @p size bytes from the kernel CSPRNG; getrandom() only returns short for > 256-byte
// requests or on EINTR, both handled by looping.
void read_kernel_random(std::uint8_t* out, std::size_t size) {
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

// Kernel randomness read 256 bytes at a time (one getrandom() for the credentials and ids of
// several gatherings, not one per string), per thread. A forked child drops what its parent
// had read, so that the two never hand out the same bytes.
struct Pool {
    std::array<std::uint8_t, 256> bytes{};
    std::size_t used = 256;
};
thread_local Pool pool;

void drop_pool_in_child() {
    pool.bytes.fill(0);
    pool.used = pool.bytes.size();
}

void fill_random(std::uint8_t* out, std::size_t size) {
    static const int registered = pthread_atfork(nullptr, nullptr, drop_pool_in_child);
    (void)registered;
    while (size > 0) {
        if (pool.used == pool.bytes.size()) {
            read_kernel_random(pool.bytes.data(), pool.bytes.size());
            pool.used = 0;
        }
        const std::size_t take = std::min(size, pool.bytes.size() - pool.used);
        std::memcpy(out, pool.bytes.data() + pool.used, take);
        std::memset(pool.bytes.data() + pool.used, 0, take); // handed out: not kept
        pool.used += take;
        out += take;
        size -= take;
    }
}

// Maps bytes onto an alphabet whose size divides 256, so every character is equally likely.
std::string random_from(std::string_view alphabet, std::size_t length) {
    std::string out(length, '\0');
    fill_random(reinterpret_cast<std::uint8_t*>(out.data()), length);
    for (char& c : out) {
        c = alphabet[static_cast<std::uint8_t>(c) % alphabet.size()];
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
