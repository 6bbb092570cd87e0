// Which enumerated addresses become bases, why the others are dropped, and in what order.
#include <algorithm>

#include <gtest/gtest.h>

#include "sources/host.hpp"
#include "network/netlink.hpp"

using namespace jgather;
using namespace jgather::detail;

namespace {

LocalAddress addr(const char* ip, const char* interface, unsigned index,
                  InterfaceKind kind = InterfaceKind::Physical) {
    LocalAddress a;
    a.ip = *IpAddress::parse(ip);
    a.prefix_length = a.ip.family() == Family::IPv4 ? 24 : 64;
    a.interface = interface;
    a.interface_index = index;
    a.kind = kind;
    return a;
}

std::vector<std::string> ips(const HostSelection& s) {
    std::vector<std::string> out;
    for (const auto& u : s.usable) {
        out.push_back(u.local.ip.to_string());
    }
    return out;
}

std::string reason_for(const HostSelection& s, const std::string& ip) {
    for (const auto& d : s.dropped) {
        if (d.address == ip) {
            return d.reason;
        }
    }
    return "(not dropped)";
}

} // namespace

TEST(HostClassification, NamesAndKinds) {
    EXPECT_EQ(classify_interface("lo", "", true), InterfaceKind::Loopback);
    EXPECT_EQ(classify_interface("eth0", "veth", false),
              InterfaceKind::Physical); // containers' eth0
    EXPECT_EQ(classify_interface("docker0", "bridge", false), InterfaceKind::VirtualBridge);
    EXPECT_EQ(classify_interface("br-1a2b3c", "bridge", false), InterfaceKind::VirtualBridge);
    EXPECT_EQ(classify_interface("veth12ab", "veth", false), InterfaceKind::VirtualBridge);
    EXPECT_EQ(classify_interface("virbr0", "bridge", false), InterfaceKind::VirtualBridge);
    EXPECT_EQ(classify_interface("br0", "bridge", false), InterfaceKind::Physical);
    EXPECT_EQ(classify_interface("tun0", "tun", false), InterfaceKind::Vpn);
    EXPECT_EQ(classify_interface("wg0", "wireguard", false), InterfaceKind::Vpn);
    EXPECT_EQ(classify_interface("office", "wireguard", false), InterfaceKind::Vpn);
    EXPECT_EQ(classify_interface("ppp0", "", false), InterfaceKind::Vpn);
    EXPECT_EQ(classify_interface("ipsec0", "", false), InterfaceKind::Vpn);
    EXPECT_EQ(classify_interface("wlan0", "", false), InterfaceKind::Physical);
}

TEST(HostSelection, DefaultsDropLoopbackLinkLocalBridgesAndBadStates) {
    auto deprecated = addr("2001:db8:b::99", "eth1", 3);
    deprecated.deprecated = true;
    auto tentative = addr("2001:db8:c::10", "eth2", 4);
    tentative.tentative = true;
    auto dad = addr("2001:db8:c::11", "eth2", 4);
    dad.dad_failed = true;
    auto down = addr("192.0.2.77", "eth3", 5);
    down.up = false;
    const std::vector<LocalAddress> all = {
        addr("127.0.0.1", "lo", 1, InterfaceKind::Loopback),
        addr("::1", "lo", 1, InterfaceKind::Loopback),
        addr("192.0.2.10", "eth0", 2),
        addr("fe80::1", "eth0", 2),
        addr("169.254.3.4", "eth0", 2),
        addr("203.0.113.1", "docker0", 6, InterfaceKind::VirtualBridge),
        deprecated,
        tentative,
        dad,
        down,
    };
    const auto s = select_host_addresses(all, {});
    EXPECT_EQ(ips(s), std::vector<std::string>{"192.0.2.10"});
    EXPECT_EQ(reason_for(s, "127.0.0.1"), "loopback address");
    EXPECT_EQ(reason_for(s, "::1"), "loopback address");
    EXPECT_EQ(reason_for(s, "fe80::1"), "link-local address");
    EXPECT_EQ(reason_for(s, "169.254.3.4"), "link-local address");
    EXPECT_NE(reason_for(s, "203.0.113.1").find("virtual bridge"), std::string::npos);
    EXPECT_NE(reason_for(s, "2001:db8:b::99").find("deprecated"), std::string::npos);
    EXPECT_NE(reason_for(s, "2001:db8:c::10").find("tentative"), std::string::npos);
    EXPECT_NE(reason_for(s, "2001:db8:c::11").find("duplicate address detection failed"),
              std::string::npos);
    EXPECT_EQ(reason_for(s, "192.0.2.77"), "interface is down");
    EXPECT_EQ(s.dropped.size(), all.size() - 1);
}

TEST(HostSelection, Rfc8421InterleavesIpv6FirstAndPutsVpnLast) {
    const std::vector<LocalAddress> all = {
        addr("192.0.2.10", "eth0", 2),
        addr("198.51.100.10", "eth1", 3),
        addr("203.0.113.50", "tun0", 7, InterfaceKind::Vpn),
        addr("2001:db8:a::10", "eth0", 2),
        addr("2001:db8:b::10", "eth1", 3),
        addr("2001:db8:f::1", "wg0", 8, InterfaceKind::Vpn),
        addr("192.0.2.20", "eth0", 2),
    };
    const auto s = select_host_addresses(all, {});
    EXPECT_EQ(ips(s), (std::vector<std::string>{"2001:db8:a::10", "192.0.2.10", "2001:db8:b::10",
                                                "198.51.100.10", "192.0.2.20", "2001:db8:f::1",
                                                "203.0.113.50"}));
    // Distinct, descending local preferences (RFC 8445 §5.1.2.1).
    for (std::size_t i = 0; i < s.usable.size(); ++i) {
        EXPECT_EQ(s.usable[i].local_preference, 65535 - i);
    }
}

TEST(HostSelection, TemporaryAddressSupersedesStableOnSamePrefix) {
    auto temporary = addr("2001:db8:a::dead:beef", "eth0", 2);
    temporary.temporary = true;
    HostOptions options;
    options.include_link_local = true;
    const std::vector<LocalAddress> all = {
        addr("2001:db8:a::10", "eth0", 2), // stable, same prefix: dropped
        temporary,
        addr("2001:db8:b::10", "eth0", 2), // other prefix: kept
        addr("fe80::1", "eth0", 2),        // link-local beside a temporary: dropped
        addr("fe80::2", "eth1", 3),        // other interface: kept
    };
    const auto s = select_host_addresses(all, options);
    EXPECT_EQ(ips(s),
              (std::vector<std::string>{"2001:db8:a::dead:beef", "2001:db8:b::10", "fe80::2"}));
    EXPECT_NE(reason_for(s, "2001:db8:a::10").find("RFC 8445 §5.1.1.1"), std::string::npos);
    EXPECT_NE(reason_for(s, "fe80::1").find("temporary"), std::string::npos);
}

TEST(HostSelection, OptionsAllowDenyFamiliesLoopbackAndFilter) {
    const std::vector<LocalAddress> all = {
        addr("127.0.0.1", "lo", 1, InterfaceKind::Loopback),
        addr("192.0.2.10", "eth0", 2),
        addr("2001:db8:a::10", "eth0", 2),
        addr("198.51.100.10", "eth1", 3),
        addr("203.0.113.5", "wg0", 4, InterfaceKind::Vpn),
        addr("203.0.113.1", "docker0", 5, InterfaceKind::VirtualBridge),
    };
    HostOptions only_v4;
    only_v4.ipv6 = false;
    EXPECT_EQ(ips(select_host_addresses(all, only_v4)),
              (std::vector<std::string>{"192.0.2.10", "198.51.100.10", "203.0.113.5"}));
    EXPECT_EQ(reason_for(select_host_addresses(all, only_v4), "2001:db8:a::10"), "IPv6 disabled");

    HostOptions only_v6;
    only_v6.ipv4 = false;
    EXPECT_EQ(ips(select_host_addresses(all, only_v6)), std::vector<std::string>{"2001:db8:a::10"});

    HostOptions allow;
    allow.allow_interfaces = {"eth1", "lo"};
    allow.include_loopback = true;
    EXPECT_EQ(ips(select_host_addresses(all, allow)),
              (std::vector<std::string>{"127.0.0.1", "198.51.100.10"}));
    EXPECT_EQ(reason_for(select_host_addresses(all, allow), "192.0.2.10"),
              "interface not in the allow-list");

    HostOptions deny;
    deny.deny_interfaces = {"eth0"};
    deny.include_vpn = false;
    deny.include_virtual_bridges = true;
    EXPECT_EQ(ips(select_host_addresses(all, deny)),
              (std::vector<std::string>{"198.51.100.10", "203.0.113.1"}));
    EXPECT_EQ(reason_for(select_host_addresses(all, deny), "192.0.2.10"),
              "interface is deny-listed");
    EXPECT_EQ(reason_for(select_host_addresses(all, deny), "203.0.113.5"), "VPN/tunnel interface");

    HostOptions filtered;
    filtered.filter = [](const LocalAddress& a) {
        return a.interface != "eth1";
    };
    EXPECT_EQ(reason_for(select_host_addresses(all, filtered), "198.51.100.10"),
              "rejected by the filter callback");
}

// choose_host_addresses() remembers the last selection made without a filter (a burst of
// gatherings asks the same of the same list): a changed list or rule must be selected anew, and
// a filter is asked every time.
TEST(HostSelection, RepeatedChoiceFollowsChangesOfTheListAndTheRules) {
    std::vector<LocalAddress> list = {addr("192.0.2.10", "eth0", 2),
                                      addr("2001:db8:a::10", "eth0", 2),
                                      addr("198.51.100.10", "eth1", 3)};
    HostOptions options;
    options.addresses = list;
    std::vector<LocalAddress> all;
    const auto chosen = [&] {
        auto selection = choose_host_addresses(options, all);
        EXPECT_TRUE(selection);
        EXPECT_EQ(all, *options.addresses); // the list it chose from, as given
        return selection ? ips(*selection) : std::vector<std::string>{};
    };
    const std::vector<std::string> everything = {"2001:db8:a::10", "192.0.2.10", "198.51.100.10"};
    EXPECT_EQ(chosen(), everything);
    EXPECT_EQ(chosen(), everything); // the same question: the same answer

    list[1].deprecated = true; // the state of one address changes
    options.addresses = list;
    EXPECT_EQ(chosen(), (std::vector<std::string>{"192.0.2.10", "198.51.100.10"}));
    std::vector<LocalAddress> ignored;
    auto again = choose_host_addresses(options, ignored);
    ASSERT_TRUE(again);
    EXPECT_EQ(reason_for(*again, "2001:db8:a::10"),
              "IPv6 address is deprecated (preferred lifetime expired)");

    options.deny_interfaces = {"eth1"}; // a rule changes
    EXPECT_EQ(chosen(), std::vector<std::string>{"192.0.2.10"});
    options.deny_interfaces.clear();
    options.ipv4 = false;
    EXPECT_EQ(chosen(), std::vector<std::string>{});
    options.ipv4 = true;

    int asked = 0; // a filter's answers may change: never remembered
    options.filter = [&asked](const LocalAddress& a) {
        ++asked;
        return asked > 2 || a.interface != "eth1";
    };
    EXPECT_EQ(chosen(), std::vector<std::string>{"192.0.2.10"});
    EXPECT_EQ(chosen(), (std::vector<std::string>{"192.0.2.10", "198.51.100.10"}));
    EXPECT_EQ(asked, 4);
}

TEST(HostSelection, SameAddressOnTwoInterfacesIsOneBase) {
    const auto s =
        select_host_addresses({addr("192.0.2.10", "eth0", 2), addr("192.0.2.10", "eth1", 3)}, {});
    EXPECT_EQ(ips(s), std::vector<std::string>{"192.0.2.10"});
    EXPECT_EQ(s.dropped.size(), 1U);
}

TEST(HostSockets, BindsUdpInARangeAndReportsThePort) {
    auto local = addr("127.0.0.1", "lo", 1, InterfaceKind::Loopback);
    auto first = bind_udp(local, 0, 0);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_GT(first->port, 0);
    // A one-port range already taken fails with a message naming the range.
    auto taken = bind_udp(local, first->port, first->port);
    ASSERT_FALSE(taken);
    EXPECT_NE(taken.error().message.find(std::to_string(first->port)), std::string::npos);
    auto tcp = listen_tcp_any();
    ASSERT_TRUE(tcp) << tcp.error().message;
    EXPECT_GT(tcp->port, 0);
}
