// What the example programs share: usage errors, number flags, JSON strings, times in ms.
// Header-only, for examples; not installed.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace cli {

/** The program's name in messages ("jgather-demo"); set once in main(). */
inline std::string program = "jgather";

/** Prints "PROGRAM: message (try --help)" and exits 2 (a usage error). */
[[noreturn]] inline void usage_error(const std::string& message) {
    std::fprintf(stderr, "%s: %s (try --help)\n", program.c_str(), message.c_str());
    std::exit(2);
}

/** @p text as a number in [@p min, @p max], or a usage error naming @p flag. */
inline unsigned parse_unsigned(std::string_view flag, const std::string& text, unsigned min,
                               unsigned max) {
    char* end = nullptr;
    errno = 0;
    const unsigned long value = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || value < min ||
        value > max) {
        usage_error(std::string(flag) + ": '" + text + "' is not a number in " +
                    std::to_string(min) + "-" + std::to_string(max));
    }
    return static_cast<unsigned>(value);
}

/** Microseconds as milliseconds. */
inline double ms(std::chrono::microseconds us) {
    return static_cast<double>(us.count()) / 1000.0;
}

/** @p text as a JSON string literal (RFC 8259 §7). */
inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                out += buffer;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

} // namespace cli
