// Interface enumeration over rtnetlink: addresses with the kernel's IPv6 flags and link kinds,
// which getifaddrs(3) does not report. The message readers serve the one-shot dump and the
// interface monitor's notifications alike.
#pragma once

#include <linux/netlink.h>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather::detail {

/** @brief What the kernel says of one link (rtnetlink RTM_NEWLINK). */
struct LinkInfo {
    std::string name;   ///< IFLA_IFNAME.
    std::string kind;   ///< IFLA_INFO_KIND, if any ("veth", "tun", ...).
    unsigned flags = 0; ///< ifi_flags (IFF_UP, IFF_LOOPBACK, ...).
};

/** Links by kernel interface index. */
using Links = std::map<int, LinkInfo>;

/** Every address of every interface in the calling thread's network namespace. */
Result<std::vector<LocalAddress>> enumerate_local_addresses();

/** Dumps every link, then every address, on the NETLINK_ROUTE socket @p fd (blocking reads). */
Result<void> dump_interfaces(int fd, Links& links, std::vector<LocalAddress>& addresses);

/** Reads an RTM_NEWLINK or RTM_DELLINK message: the interface index and what it says. */
std::pair<int, LinkInfo> read_link(const nlmsghdr* msg);

/** Reads an RTM_NEWADDR or RTM_DELADDR message; nothing for families other than IPv4/IPv6 or a
 * message without an address. The interface's name, kind and state come from @p links. */
std::optional<LocalAddress> read_address(const nlmsghdr* msg, const Links& links);

/** Sets the interface members of @p address (name, kind, up, classification) from @p link. */
void apply_link(LocalAddress& address, const LinkInfo& link);

/** Classifies an interface by name and kernel link kind (see InterfaceKind). */
InterfaceKind classify_interface(std::string_view name, std::string_view link_kind,
                                 bool is_loopback_link);

} // namespace jgather::detail
