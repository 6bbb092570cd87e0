// Transport addresses as BSD socket addresses, and back.
#pragma once

#include <cstdint>
#include <optional>
#include <sys/socket.h>

#include <jgather/address.hpp>

namespace jgather::detail {

/** @p address as a socket address in @p out; returns its length. @p scope_id is the interface
 * index a link-local IPv6 address needs (RFC 4007 §6), 0 otherwise. */
socklen_t to_sockaddr(const TransportAddress& address, sockaddr_storage& out,
                      std::uint32_t scope_id = 0);

/** An AF_INET or AF_INET6 socket address as a transport address (an IPv4-mapped IPv6 address
 * unmapped); nullopt for other families. */
std::optional<TransportAddress> from_sockaddr(const sockaddr_storage& in);

} // namespace jgather::detail
