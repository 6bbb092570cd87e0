#include <jgather/address.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace jgather {

Result<IpAddress> IpAddress::parse(std::string_view text) {
    // inet_pton accepts exactly the literal forms (RFC 4291 §2.2 for IPv6, dotted quad for IPv4)
    // and nothing else: no names, no zones, no brackets, no blanks.
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
        return Error{"'" + std::string(text) + "' is not a literal IPv4 or IPv6 address"};
    }
    const std::string copy(text);
    IpAddress address;
    if (inet_pton(AF_INET, copy.c_str(), address.bytes_.data()) == 1) {
        address.family_ = Family::IPv4;
        return address;
    }
    if (inet_pton(AF_INET6, copy.c_str(), address.bytes_.data()) == 1) {
        address.family_ = Family::IPv6;
        return address;
    }
    return Error{"'" + copy + "' is not a literal IPv4 or IPv6 address"};
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

std::string IpAddress::to_string() const {
    // glibc's inet_ntop writes RFC 5952 canonical text.
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(family_ == Family::IPv4 ? AF_INET : AF_INET6, bytes_.data(), buffer, sizeof buffer);
    return buffer;
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
    return ip.to_string() + ":" + std::to_string(port);
}

} // namespace jgather
