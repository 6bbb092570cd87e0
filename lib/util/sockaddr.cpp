#include "sockaddr.hpp"
#include <array>
#include <cstring>
#include <netinet/in.h>

namespace jgather::detail {

socklen_t to_sockaddr(const TransportAddress& address, sockaddr_storage& out,
                      std::uint32_t scope_id) {
    std::memset(&out, 0, sizeof out);
    if (address.ip.family() == Family::IPv4) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(address.port);
        std::memcpy(&sin->sin_addr, address.ip.bytes().data(), 4);
        return sizeof *sin;
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(address.port);
    sin6->sin6_scope_id = scope_id;
    std::memcpy(&sin6->sin6_addr, address.ip.bytes().data(), 16);
    return sizeof *sin6;
}

std::optional<TransportAddress> from_sockaddr(const sockaddr_storage& in) {
    if (in.ss_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&in);
        std::array<std::uint8_t, 4> bytes{};
        std::memcpy(bytes.data(), &sin->sin_addr, 4);
        return TransportAddress{IpAddress::v4(bytes), ntohs(sin->sin_port)};
    }
    if (in.ss_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&in);
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &sin6->sin6_addr, 16);
        return TransportAddress{IpAddress::v6(bytes).unmapped(), ntohs(sin6->sin6_port)};
    }
    return std::nullopt;
}

} // namespace jgather::detail
