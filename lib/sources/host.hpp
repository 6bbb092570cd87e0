// The host source: which local addresses become bases, in which order, and their sockets.
#pragma once

#include <cstdint>
#include <vector>

#include <jgather/gatherer.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

#include "../util/unique_fd.hpp"

namespace jgather::detail {

/** @brief A local address kept as a base, with its RFC 8445 §5.1.2.1 local preference. */
struct UsableAddress {
    LocalAddress local;
    std::uint16_t local_preference = 0;
};

/** @brief The outcome of applying HostOptions to the enumerated addresses. */
struct HostSelection {
    std::vector<UsableAddress> usable; ///< Highest preference first.
    std::vector<DroppedAddress> dropped;
};

/**
 * Applies the host rules: options, address state (tentative, deprecated, DAD failed), privacy
 * (RFC 8445 §5.1.1.1), interface kinds; then orders what is left: physical before VPN, and within
 * each, IPv6 and IPv4 interleaved, IPv6 first (RFC 8421 §4). Local preferences are distinct and
 * descend from 65535.
 */
HostSelection select_host_addresses(const std::vector<LocalAddress>& all,
                                    const HostOptions& options);

/**
 * Enumerates the local addresses into @p all (or copies HostOptions::addresses) and selects
 * the usable ones. An exception thrown by HostOptions::filter becomes an error.
 */
Result<HostSelection> choose_host_addresses(const HostOptions& options,
                                            std::vector<LocalAddress>& all);

/** @brief A bound socket and its port. */
struct BoundSocket {
    UniqueFd fd;
    std::uint16_t port = 0;
};

/** Binds a non-blocking UDP socket to @p address, on an ephemeral port or one in the range. */
Result<BoundSocket> bind_udp(const LocalAddress& address, std::uint16_t port_min,
                             std::uint16_t port_max);

/** Opens a non-blocking TCP listener on all addresses (dual-stack where possible), any port. */
Result<BoundSocket> listen_tcp_any();

} // namespace jgather::detail
