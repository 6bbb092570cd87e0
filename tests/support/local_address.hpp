// Test support: a local address as the host source would enumerate it.
#pragma once

#include <jgather/address.hpp>
#include <jgather/source.hpp>

namespace jgather::test {

/** @p ip on @p interface (kernel index @p index), up, physical; /8 for IPv4, /128 for IPv6. */
inline LocalAddress local_address(const char* ip, const char* interface, unsigned index) {
    LocalAddress a;
    a.ip = *IpAddress::parse(ip);
    a.prefix_length = a.ip.family() == Family::IPv4 ? 8 : 128;
    a.interface = interface;
    a.interface_index = index;
    return a;
}

} // namespace jgather::test
