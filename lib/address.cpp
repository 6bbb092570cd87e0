#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>

#include <jgather/address.hpp>

namespace jgather {

namespace {

// Strict dotted quad: four decimal octets of 1-3 digits, no leading zeros, nothing else (the
// forms inet_pton(AF_INET) accepts), without a copy to NUL-terminate.
bool parse_dotted_quad(std::string_view text, std::uint8_t* out) {
    std::size_t pos = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet != 0) {
            if (pos >= text.size() || text[pos] != '.') {
                return false;
            }
            ++pos;
        }
        const std::size_t start = pos;
        unsigned value = 0;
        while (pos < text.size() && pos - start < 3 && text[pos] >= '0' && text[pos] <= '9') {
            value = value * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        const std::size_t digits = pos - start;
        if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) {
            return false;
        }
        out[octet] = static_cast<std::uint8_t>(value);
    }
    return pos == text.size();
}

} // namespace

Result<IpAddress> IpAddress::parse(std::string_view text) {
    // Literal forms only (dotted quad; RFC 4291 §2.2 for IPv6): no names, zones, brackets or
    // blanks.
    IpAddress address;
    if (text.find(':') == std::string_view::npos) {
        if (parse_dotted_quad(text, address.bytes_.data())) {
            return address;
        }
    } else if (text.size() < INET6_ADDRSTRLEN) {
        char buffer[INET6_ADDRSTRLEN];
        std::memcpy(buffer, text.data(), text.size());
        buffer[text.size()] = '\0';
        if (inet_pton(AF_INET6, buffer, address.bytes_.data()) == 1) {
            address.family_ = Family::IPv6;
            return address;
        }
    }
    return Error{"'" + std::string(text) + "' is not a literal IPv4 or IPv6 address"};
}

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& bytes) {
    IpAddress address;
    std::copy(bytes.begin(), bytes.end(), address.bytes_.begin());
    return address;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) {
    IpAddress address;
    address.family_ = Family::IPv6;
    address.bytes_ = bytes;
    return address;
}

namespace {

// Writes "a.b.c.d" at @p out (room for 15 characters); returns the end.
char* write_dotted_quad(char* out, const std::uint8_t* bytes) {
    for (int i = 0; i < 4; ++i) {
        if (i != 0) {
            *out++ = '.';
        }
        const unsigned value = bytes[i];
        if (value >= 100) {
            *out++ = static_cast<char>('0' + value / 100);
        }
        if (value >= 10) {
            *out++ = static_cast<char>('0' + value / 10 % 10);
        }
        *out++ = static_cast<char>('0' + value % 10);
    }
    return out;
}

void append_dotted_quad(std::string& out, const std::uint8_t* bytes) {
    char text[15];
    out.append(text, write_dotted_quad(text, bytes));
}

void append_hex_group(std::string& out, unsigned group) {
    static constexpr char kHex[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
        const unsigned nibble = (group >> shift) & 0xf;
        if (nibble != 0 || started || shift == 0) {
            out.push_back(kHex[nibble]);
            started = true;
        }
    }
}

} // namespace

std::string IpAddress::to_string() const {
    // Formatted by hand (inet_ntop goes through sprintf, a third of a reader's time).
    if (family_ == Family::IPv4) { // one construction, within the small-string buffer
        char text[15];
        return std::string(text, write_dotted_quad(text, bytes_.data()));
    }
    std::string out;
    out.reserve(39);
    if (is_v4_mapped()) { // RFC 5952 §5: mixed notation for IPv4-mapped addresses
        out = "::ffff:";
        append_dotted_quad(out, bytes_.data() + 12);
        return out;
    }
    std::array<unsigned, 8> groups{};
    for (std::size_t i = 0; i < 8; ++i) {
        groups[i] = static_cast<unsigned>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
    }
    // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
    int best_start = -1;
    int best_length = 1;
    for (int i = 0; i < 8;) {
        if (groups[static_cast<std::size_t>(i)] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && groups[static_cast<std::size_t>(j)] == 0) {
            ++j;
        }
        if (j - i > best_length) {
            best_start = i;
            best_length = j - i;
        }
        i = j;
    }
    for (int i = 0; i < 8; ++i) {
        if (i == best_start) {
            out += "::";
            i += best_length - 1;
            continue;
        }
        if (i != 0 && i != best_start + best_length) {
            out.push_back(':');
        }
        append_hex_group(out, groups[static_cast<std::size_t>(i)]);
    }
    return out;
}

bool IpAddress::is_loopback() const noexcept {
    if (family_ == Family::IPv4) {
        return bytes_[0] == 127;
    }
    static constexpr std::array<std::uint8_t, 16> kLoopback6{0, 0, 0, 0, 0, 0, 0, 0,
                                                             0, 0, 0, 0, 0, 0, 0, 1};
    return bytes_ == kLoopback6;
}

bool IpAddress::is_link_local() const noexcept {
    if (family_ == Family::IPv4) {
        return bytes_[0] == 169 && bytes_[1] == 254;
    }
    return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

bool IpAddress::is_unspecified() const noexcept {
    const std::size_t size = family_ == Family::IPv4 ? 4 : 16;
    return std::all_of(bytes_.begin(), bytes_.begin() + static_cast<long>(size),
                       [](std::uint8_t b) { return b == 0; });
}

bool IpAddress::is_v4_mapped() const noexcept {
    if (family_ != Family::IPv6) {
        return false;
    }
    for (int i = 0; i < 10; ++i) {
        if (bytes_[static_cast<std::size_t>(i)] != 0) {
            return false;
        }
    }
    return bytes_[10] == 0xff && bytes_[11] == 0xff;
}

bool IpAddress::is_shared_cgnat() const noexcept {
    return family_ == Family::IPv4 && bytes_[0] == 100 && (bytes_[1] & 0xc0) == 64;
}

bool IpAddress::is_private() const noexcept {
    if (family_ == Family::IPv4) {
        return bytes_[0] == 10 || (bytes_[0] == 172 && (bytes_[1] & 0xf0) == 16) ||
               (bytes_[0] == 192 && bytes_[1] == 168);
    }
    return (bytes_[0] & 0xfe) == 0xfc;
}

bool IpAddress::is_multicast() const noexcept {
    if (family_ == Family::IPv4) {
        return (bytes_[0] & 0xf0) == 224;
    }
    return bytes_[0] == 0xff;
}

bool IpAddress::is_broadcast() const noexcept {
    return family_ == Family::IPv4 && bytes_[0] == 255 && bytes_[1] == 255 && bytes_[2] == 255 &&
           bytes_[3] == 255;
}

bool IpAddress::is_reserved() const noexcept {
    return family_ == Family::IPv4 && (bytes_[0] == 0 || (bytes_[0] & 0xf0) == 240);
}

std::optional<std::string> remote_address_problem(const IpAddress& ip) {
    const IpAddress a = ip.unmapped();
    if (a.is_unspecified()) {
        return a.to_string() + " is the unspecified address";
    }
    if (a.is_broadcast()) {
        return a.to_string() + " is the broadcast address";
    }
    if (a.is_multicast()) {
        return a.to_string() + " is a multicast address";
    }
    if (a.is_reserved()) {
        return a.to_string() + " is a reserved address (RFC 1122 §3.2.1.3, RFC 1112 §4)";
    }
    return std::nullopt;
}

std::optional<std::string> external_address_problem(const IpAddress& ip) {
    if (auto problem = remote_address_problem(ip)) {
        return problem;
    }
    const IpAddress a = ip.unmapped();
    if (a.is_loopback()) {
        return a.to_string() + " is a loopback address";
    }
    if (a.is_link_local()) {
        return a.to_string() + " is a link-local address, never routed beyond its link";
    }
    return std::nullopt;
}

Result<TransportAddress> TransportAddress::parse(std::string_view text,
                                                 std::uint16_t default_port) {
    const auto quoted = "'" + std::string(text) + "'";
    std::string_view host = text;
    std::optional<std::string_view> digits;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return Error{quoted + ": missing ']'"};
        }
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') {
                return Error{quoted + ": expected [IPv6]:PORT"};
            }
            digits = text.substr(close + 2);
        }
    } else if (const auto colon = text.find(':');
               colon != std::string_view::npos && colon == text.rfind(':')) {
        host = text.substr(0, colon); // one colon: IPv4:PORT (IPv6 has at least two)
        digits = text.substr(colon + 1);
    }
    std::uint16_t port = default_port;
    if (digits) {
        const bool plain = !digits->empty() && digits->size() <= 5 && digits->front() != '0' &&
                           std::all_of(digits->begin(), digits->end(),
                                       [](char c) { return c >= '0' && c <= '9'; });
        const unsigned long value = plain ? std::stoul(std::string(*digits)) : 0;
        if (!plain || value > 65535) {
            return Error{quoted + ": port '" + std::string(*digits) + "' is not 1-65535"};
        }
        port = static_cast<std::uint16_t>(value);
    }
    auto ip = IpAddress::parse(host);
    if (!ip) {
        return Error{quoted + ": " + ip.error().message};
    }
    if (text.front() == '[' && ip->family() != Family::IPv6) {
        return Error{quoted + ": brackets are for IPv6 addresses"};
    }
    return TransportAddress{ip->unmapped(), port};
}

IpAddress IpAddress::unmapped() const noexcept {
    if (!is_v4_mapped()) {
        return *this;
    }
    return v4({bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
}

bool IpAddress::same_prefix(const IpAddress& other, unsigned prefix_length) const noexcept {
    if (family_ != other.family_) {
        return false;
    }
    const unsigned bits = std::min(prefix_length, family_ == Family::IPv4 ? 32U : 128U);
    const unsigned whole = bits / 8;
    if (!std::equal(bytes_.begin(), bytes_.begin() + whole, other.bytes_.begin())) {
        return false;
    }
    const unsigned rest = bits % 8;
    if (rest == 0) {
        return true;
    }
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (bytes_[whole] & mask) == (other.bytes_[whole] & mask);
}

std::string TransportAddress::to_string() const {
    if (ip.family() == Family::IPv6) {
        return "[" + ip.to_string() + "]:" + std::to_string(port);
    }
    // "a.b.c.d:port" written once (at most 21 characters), not built by concatenation.
    char text[21];
    char* end = write_dotted_quad(text, ip.bytes().data());
    *end++ = ':';
    end = std::to_chars(end, text + sizeof text, port).ptr;
    return std::string(text, end);
}

} // namespace jgather
