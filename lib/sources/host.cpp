#include "host.hpp"
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <exception>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>

#include "../network/netlink.hpp"
#include "../util/random.hpp"
#include "../util/sockaddr.hpp"

namespace jgather::detail {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

// The first rule that excludes @p address, or "" when it is usable.
std::string exclusion_reason(const LocalAddress& address, const HostOptions& options) {
    const IpAddress& ip = address.ip;
    if (!options.allow_interfaces.empty() &&
        !contains(options.allow_interfaces, address.interface)) {
        return "interface not in the allow-list";
    }
    if (contains(options.deny_interfaces, address.interface)) {
        return "interface is deny-listed";
    }
    if (ip.family() == Family::IPv4 && !options.ipv4) {
        return "IPv4 disabled";
    }
    if (ip.family() == Family::IPv6 && !options.ipv6) {
        return "IPv6 disabled";
    }
    if (!address.up) {
        return "interface is down";
    }
    if (ip.is_unspecified() || ip.is_v4_mapped()) {
        return "not a usable unicast address";
    }
    if ((ip.is_loopback() || address.kind == InterfaceKind::Loopback) &&
        !options.include_loopback) {
        return "loopback address";
    }
    if (ip.is_link_local() && !options.include_link_local) {
        return "link-local address";
    }
    if (address.kind == InterfaceKind::VirtualBridge && !options.include_virtual_bridges) {
        return "virtual bridge interface (container/VM plumbing)";
    }
    if (address.kind == InterfaceKind::Vpn && !options.include_vpn) {
        return "VPN/tunnel interface";
    }
    if (address.dad_failed) {
        return "IPv6 duplicate address detection failed";
    }
    if (address.tentative) {
        return "IPv6 address is tentative (duplicate address detection not finished)";
    }
    if (address.deprecated) {
        return "IPv6 address is deprecated (preferred lifetime expired)";
    }
    return {};
}

// RFC 8445 §5.1.1.1: with a privacy (temporary) address on an interface and prefix, the stable
// addresses of that prefix and the interface's link-local addresses must not be gathered.
std::string privacy_reason(const LocalAddress& address,
                           const std::vector<const LocalAddress*>& kept) {
    if (address.ip.family() != Family::IPv6 || address.temporary) {
        return {};
    }
    for (const LocalAddress* kept_one : kept) {
        const LocalAddress& other = *kept_one;
        if (!other.temporary || other.interface_index != address.interface_index) {
            continue;
        }
        if (address.ip.is_link_local()) {
            return "link-local address on an interface with a temporary address "
                   "(RFC 8445 §5.1.1.1)";
        }
        const unsigned prefix = other.prefix_length ? other.prefix_length : 64;
        if (other.ip.same_prefix(address.ip, prefix)) {
            return "stable IPv6 address superseded by temporary " + other.ip.to_string() +
                   " on the same prefix (RFC 8445 §5.1.1.1)";
        }
    }
    return {};
}

// RFC 8421 §4: alternate IPv6 and IPv4, IPv6 first; a family that runs out leaves the rest to
// the other. (Pointers into the caller's list: the addresses are copied once, when chosen.)
std::vector<const LocalAddress*>
interleave_families(const std::vector<const LocalAddress*>& addresses) {
    std::vector<const LocalAddress*> v6;
    std::vector<const LocalAddress*> v4;
    for (const LocalAddress* a : addresses) {
        (a->ip.family() == Family::IPv6 ? v6 : v4).push_back(a);
    }
    // Temporary addresses are the ones a privacy-minded host uses; offer them first.
    std::stable_partition(v6.begin(), v6.end(), [](const LocalAddress* a) { return a->temporary; });
    if (v6.empty()) {
        return v4;
    }
    std::vector<const LocalAddress*> out;
    out.reserve(addresses.size());
    for (std::size_t i = 0; i < std::max(v6.size(), v4.size()); ++i) {
        if (i < v6.size()) {
            out.push_back(v6[i]);
        }
        if (i < v4.size()) {
            out.push_back(v4[i]);
        }
    }
    return out;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// The socket address to bind for @p address (link-local IPv6 needs its interface).
socklen_t local_sockaddr(const LocalAddress& address, std::uint16_t port,
                         sockaddr_storage& storage) {
    return to_sockaddr({address.ip, port}, storage,
                       address.ip.is_link_local() ? address.interface_index : 0);
}

std::uint16_t bound_port(int fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
        return 0;
    }
    const auto bound = from_sockaddr(storage);
    return bound ? bound->port : 0;
}

} // namespace

HostSelection select_host_addresses(const std::vector<LocalAddress>& all,
                                    const HostOptions& options) {
    HostSelection selection;
    std::vector<const LocalAddress*> kept; // into @p all: copied once, into selection.usable
    kept.reserve(all.size());
    for (const LocalAddress& address : all) {
        std::string reason = exclusion_reason(address, options);
        if (reason.empty() && options.filter && !options.filter(address)) {
            reason = "rejected by the filter callback";
        }
        if (!reason.empty()) {
            selection.dropped.push_back({address.ip.to_string(), address.interface, reason});
            continue;
        }
        const bool duplicate = std::any_of(
            kept.begin(), kept.end(), [&](const LocalAddress* k) { return k->ip == address.ip; });
        if (duplicate) {
            selection.dropped.push_back(
                {address.ip.to_string(), address.interface, "same address on another interface"});
            continue;
        }
        kept.push_back(&address);
    }

    std::vector<const LocalAddress*> preferred;
    std::vector<const LocalAddress*> vpn;
    for (const LocalAddress* address : kept) {
        if (std::string reason = privacy_reason(*address, kept); !reason.empty()) {
            selection.dropped.push_back({address->ip.to_string(), address->interface, reason});
            continue;
        }
        (address->kind == InterfaceKind::Vpn ? vpn : preferred).push_back(address);
    }

    // RFC 8445 §5.1.2.1: local preference distinct per IP address, 65535 the highest. VPNs
    // last: their egress is often farther away than the direct path.
    std::uint16_t local_preference = 65535;
    selection.usable.reserve(preferred.size() + vpn.size());
    for (const auto* group : {&preferred, &vpn}) {
        for (const LocalAddress* address : interleave_families(*group)) {
            selection.usable.push_back({*address, local_preference--});
        }
    }
    return selection;
}

Result<BoundSocket> bind_udp(const LocalAddress& address, std::uint16_t port_min,
                             std::uint16_t port_max) {
    const int family = address.ip.family() == Family::IPv4 ? AF_INET : AF_INET6;
    UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
        return Error{"cannot create UDP socket: " + errno_text(errno)};
    }
    if (family == AF_INET6) {
        const int on = 1;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    }
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (port_min == 0 && port_max == 0) {
        length = local_sockaddr(address, 0, storage);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
            return Error{"cannot bind UDP socket: " + errno_text(errno)};
        }
        const std::uint16_t port = bound_port(fd.get());
        return BoundSocket{std::move(fd), port};
    }
    // A port range: start at a random offset so concurrent gatherings do not collide first.
    const unsigned span = static_cast<unsigned>(port_max - port_min) + 1;
    const std::string seed = random_alnum(4);
    unsigned offset = 0;
    for (char c : seed) {
        offset = offset * 31 + static_cast<unsigned char>(c);
    }
    int last_error = EADDRINUSE;
    for (unsigned i = 0; i < span; ++i) {
        const auto port = static_cast<std::uint16_t>(port_min + (offset + i) % span);
        length = local_sockaddr(address, port, storage);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) == 0) {
            return BoundSocket{std::move(fd), port};
        }
        last_error = errno;
        if (last_error != EADDRINUSE) {
            break;
        }
    }
    return Error{"cannot bind UDP socket in ports " + std::to_string(port_min) + "-" +
                 std::to_string(port_max) + ": " + errno_text(last_error)};
}

Result<BoundSocket> listen_tcp_any() {
    // Dual-stack first: one listener serves both families' candidates.
    UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.valid()) {
        const int off = 0;
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        sockaddr_in6 any{};
        any.sin6_family = AF_INET6;
        any.sin6_addr = in6addr_any;
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) {
            fd.reset();
        }
    }
    if (!fd.valid()) {
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        sockaddr_in any{};
        any.sin_family = AF_INET;
        if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) {
            return Error{"cannot bind the SOCKS5 listener: " + errno_text(errno)};
        }
    }
    if (::listen(fd.get(), SOMAXCONN) != 0) {
        return Error{"cannot listen on the SOCKS5 listener: " + errno_text(errno)};
    }
    const std::uint16_t port = bound_port(fd.get());
    return BoundSocket{std::move(fd), port};
}

namespace {

// The rules of HostOptions that select_host_addresses() applies (not the filter, whose answers
// may change, nor the addresses and ports).
bool same_rules(const HostOptions& a, const HostOptions& b) {
    return a.ipv4 == b.ipv4 && a.ipv6 == b.ipv6 && a.include_loopback == b.include_loopback &&
           a.include_link_local == b.include_link_local &&
           a.include_virtual_bridges == b.include_virtual_bridges &&
           a.include_vpn == b.include_vpn && a.allow_interfaces == b.allow_interfaces &&
           a.deny_interfaces == b.deny_interfaces;
}

// The last selection made on this thread without a filter. The selection is a function of the
// rules and the list alone, and a burst of gatherings on one loop asks the same of the same
// list (the loop's interface monitor's): one comparison of a few addresses instead of the rules,
// the ordering and the reasons each time.
struct LastSelection {
    HostOptions rules;
    std::vector<LocalAddress> all;
    HostSelection selection;
};
thread_local std::optional<LastSelection> last_selection;

} // namespace

Result<HostSelection> choose_host_addresses(const HostOptions& options,
                                            std::vector<LocalAddress>& all) {
    if (options.addresses) {
        all = *options.addresses;
    } else if (auto enumerated = enumerate_local_addresses(); enumerated) {
        all = std::move(enumerated.value());
    } else {
        return enumerated.error();
    }
    if (!options.filter) {
        if (last_selection && same_rules(last_selection->rules, options) &&
            last_selection->all == all) {
            return last_selection->selection;
        }
        HostSelection selection = select_host_addresses(all, options);
        // Only the rules same_rules() compares are read back (no filter on this path).
        last_selection = LastSelection{options, all, selection};
        return selection;
    }
    try { // HostOptions::filter is the application's code
        return select_host_addresses(all, options);
    } catch (const std::exception& e) {
        return Error{std::string("HostOptions::filter threw: ") + e.what()};
    } catch (...) {
        return Error{"HostOptions::filter threw a non-standard exception"};
    }
}

} // namespace jgather::detail
