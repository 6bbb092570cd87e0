#include "netlink.hpp"
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <map>
#include <net/if.h>
#include <string>
#include <sys/socket.h>

#include "../util/unique_fd.hpp"

namespace jgather::detail {
namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

// Sends one RTM_GETLINK / RTM_GETADDR dump request and hands each reply message to @p on_message.
Result<void> dump(int fd, std::uint16_t type, std::uint32_t seq,
                  const std::function<void(const nlmsghdr*)>& on_message) {
    struct {
        nlmsghdr header;
        rtgenmsg body;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = type;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = seq;
    request.body.rtgen_family = AF_UNSPEC;
    if (::send(fd, &request, sizeof request, 0) < 0) {
        return Error{"netlink send: " + errno_text(errno)};
    }
    alignas(nlmsghdr) std::array<char, 32768> buffer; // not zeroed: recv() fills what is read
    for (;;) {
        const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            return Error{"netlink recv: " + errno_text(errno)};
        }
        auto remaining = static_cast<unsigned>(got);
        for (auto* msg = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(msg, remaining);
             msg = NLMSG_NEXT(msg, remaining)) {
            if (msg->nlmsg_seq != seq) {
                continue;
            }
            if (msg->nlmsg_type == NLMSG_DONE) {
                return {};
            }
            if (msg->nlmsg_type == NLMSG_ERROR) {
                const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(msg));
                return Error{"netlink dump: " + errno_text(-err->error)};
            }
            on_message(msg);
        }
    }
}

bool has_prefix(std::string_view name, std::string_view prefix) {
    return name.substr(0, prefix.size()) == prefix;
}

} // namespace

InterfaceKind classify_interface(std::string_view name, std::string_view link_kind,
                                 bool is_loopback_link) {
    if (is_loopback_link || name == "lo") {
        return InterfaceKind::Loopback;
    }
    // Container and VM plumbing: these names are what docker, podman, libvirt and LXC create.
    // A bridge with another name (br0) is often the host's real LAN link, so kind alone says
    // nothing.
    for (std::string_view prefix : {"docker", "br-", "veth", "virbr"}) {
        if (has_prefix(name, prefix)) {
            return InterfaceKind::VirtualBridge;
        }
    }
    for (std::string_view prefix :
         {"tun", "tap", "wg", "ppp", "ipsec", "utun", "zt", "tailscale"}) {
        if (has_prefix(name, prefix)) {
            return InterfaceKind::Vpn;
        }
    }
    for (std::string_view kind : {"tun", "wireguard", "ipip", "gre", "gretap", "ip6gre", "sit",
                                  "ip6tnl", "vti", "vti6", "xfrm", "ppp", "l2tp"}) {
        if (link_kind == kind) {
            return InterfaceKind::Vpn;
        }
    }
    return InterfaceKind::Physical;
}

std::pair<int, LinkInfo> read_link(const nlmsghdr* msg) {
    const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(msg));
    LinkInfo link;
    link.flags = info->ifi_flags;
    int length = static_cast<int>(IFLA_PAYLOAD(msg));
    for (const auto* attr = IFLA_RTA(info); RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) {
        if (attr->rta_type == IFLA_IFNAME) {
            link.name = static_cast<const char*>(RTA_DATA(attr));
        } else if (attr->rta_type == IFLA_LINKINFO) {
            int nested_length = static_cast<int>(RTA_PAYLOAD(attr));
            for (const auto* nested = static_cast<const rtattr*>(RTA_DATA(attr));
                 RTA_OK(nested, nested_length); nested = RTA_NEXT(nested, nested_length)) {
                if (nested->rta_type == IFLA_INFO_KIND) {
                    link.kind = static_cast<const char*>(RTA_DATA(nested));
                }
            }
        }
    }
    return {info->ifi_index, std::move(link)};
}

void apply_link(LocalAddress& address, const LinkInfo& link) {
    address.interface = link.name;
    address.link_kind = link.kind;
    address.up = (link.flags & IFF_UP) != 0;
    address.kind =
        classify_interface(address.interface, address.link_kind, (link.flags & IFF_LOOPBACK) != 0);
}

std::optional<LocalAddress> read_address(const nlmsghdr* msg, const Links& links) {
    const auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(msg));
    if (info->ifa_family != AF_INET && info->ifa_family != AF_INET6) {
        return std::nullopt;
    }
    std::uint32_t flags = info->ifa_flags;
    const void* local = nullptr;
    const void* address = nullptr;
    int length = static_cast<int>(IFA_PAYLOAD(msg));
    for (const auto* attr = IFA_RTA(info); RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) {
        switch (attr->rta_type) {
        case IFA_LOCAL:
            local = RTA_DATA(attr);
            break;
        case IFA_ADDRESS:
            address = RTA_DATA(attr);
            break;
        case IFA_FLAGS: // 32-bit flags supersede the 8-bit ifa_flags (linux/if_addr.h).
            std::memcpy(&flags, RTA_DATA(attr), sizeof flags);
            break;
        default:
            break;
        }
    }
    // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours.
    const void* own = local ? local : address;
    if (!own) {
        return std::nullopt;
    }
    LocalAddress entry;
    if (info->ifa_family == AF_INET) {
        std::array<std::uint8_t, 4> bytes{};
        std::memcpy(bytes.data(), own, bytes.size());
        entry.ip = IpAddress::v4(bytes);
    } else {
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), own, bytes.size());
        entry.ip = IpAddress::v6(bytes);
    }
    entry.prefix_length = info->ifa_prefixlen;
    entry.interface_index = info->ifa_index;
    if (auto link = links.find(static_cast<int>(info->ifa_index)); link != links.end()) {
        apply_link(entry, link->second);
    }
    entry.tentative = (flags & IFA_F_TENTATIVE) != 0 && (flags & IFA_F_OPTIMISTIC) == 0;
    entry.deprecated = (flags & IFA_F_DEPRECATED) != 0;
    entry.temporary = (flags & IFA_F_TEMPORARY) != 0;
    entry.dad_failed = (flags & IFA_F_DADFAILED) != 0;
    return entry;
}

Result<void> dump_interfaces(int fd, Links& links, std::vector<LocalAddress>& addresses) {
    links.clear();
    addresses.clear();
    auto linked = dump(fd, RTM_GETLINK, 1, [&](const nlmsghdr* msg) {
        if (msg->nlmsg_type == RTM_NEWLINK) {
            auto [index, link] = read_link(msg);
            links.insert_or_assign(index, std::move(link));
        }
    });
    if (!linked) {
        return linked.error();
    }
    return dump(fd, RTM_GETADDR, 2, [&](const nlmsghdr* msg) {
        if (msg->nlmsg_type == RTM_NEWADDR) {
            if (auto entry = read_address(msg, links)) {
                addresses.push_back(std::move(*entry));
            }
        }
    });
}

Result<std::vector<LocalAddress>> enumerate_local_addresses() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd.valid()) {
        return Error{"cannot open netlink socket: " + errno_text(errno)};
    }
    Links links;
    std::vector<LocalAddress> addresses;
    if (auto dumped = dump_interfaces(fd.get(), links, addresses); !dumped) {
        return dumped.error();
    }
    return addresses;
}

} // namespace jgather::detail
