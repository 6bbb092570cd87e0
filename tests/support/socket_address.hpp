// Test support: literal IPs (IPv4 or IPv6) as socket addresses, and back.
#pragma once

#include <arpa/inet.h>
#include <cstdint>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace jgather::test {

/** ip:port as a socket address of the IP's family; returns its length. Throws
 * std::invalid_argument if @p ip is not a literal IP. */
inline socklen_t make_sockaddr(const std::string& ip, std::uint16_t port, sockaddr_storage& out) {
    out = {};
    if (ip.find(':') == std::string::npos) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (inet_pton(AF_INET, ip.c_str(), &sin->sin_addr) != 1) {
            throw std::invalid_argument("not an IP: " + ip);
        }
        return sizeof *sin;
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip.c_str(), &sin6->sin6_addr) != 1) {
        throw std::invalid_argument("not an IP: " + ip);
    }
    return sizeof *sin6;
}

/** The IP of an AF_INET or AF_INET6 socket address, as text. */
inline std::string ip_of(const sockaddr_storage& address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text,
                  sizeof text);
    } else {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text,
                  sizeof text);
    }
    return text;
}

/** The port of an AF_INET or AF_INET6 socket address. */
inline std::uint16_t port_of(const sockaddr_storage& address) {
    return address.ss_family == AF_INET
               ? ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port)
               : ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
}

/** A socket of @p type bound to ip:0 (the OS picks the port, written to @p port). Throws
 * std::runtime_error if it cannot. */
inline int bound_socket(const std::string& ip, int type, std::uint16_t& port) {
    sockaddr_storage address{};
    socklen_t length = make_sockaddr(ip, 0, address);
    const int fd = socket(address.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        throw std::runtime_error("cannot bind a socket on " + ip);
    }
    port = port_of(address);
    return fd;
}

} // namespace jgather::test
