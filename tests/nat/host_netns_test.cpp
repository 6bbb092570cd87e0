// The host source inside a network namespace with known interfaces: exactly the expected
// candidates, in the expected order, and a reason for every address left out.
#include <cstdlib>
#include <map>
#include <net/if.h>
#include <thread>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>

#include "support/glib_loop.hpp"
#include "support/netns.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

// The lab: eth0 and eth1 are veths to a peer namespace (Ethernet-like, with carrier); eth2's
// peer stays down, so its IPv6 address stays tentative; docker0 is an empty bridge; tun0 a tun
// device; lo is up. Documentation ranges only (RFC 5737, RFC 3849).
class HostLab : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        host_ = new test::Netns("host");
        peer_ = new test::Netns("peer");
        const test::Netns& h = *host_;
        h.ip({"link", "set", "lo", "up"});
        for (const char* n : {"0", "1", "2"}) {
            h.ip({"link", "add", std::string("eth") + n, "type", "veth", "peer", "name",
                  std::string("p") + n, "netns", peer_->name()});
        }
        peer_->ip({"link", "set", "p0", "up"});
        peer_->ip({"link", "set", "p1", "up"});
        h.ip({"addr", "add", "192.0.2.10/24", "dev", "eth0"});
        h.ip({"addr", "add", "169.254.10.10/16", "dev", "eth0"});
        h.ip({"addr", "add", "2001:db8:a::10/64", "dev", "eth0", "nodad"});
        h.ip({"addr", "add", "198.51.100.10/24", "dev", "eth1"});
        h.ip({"addr", "add", "2001:db8:b::10/64", "dev", "eth1", "nodad"});
        h.ip({"addr", "add", "2001:db8:b::99/64", "dev", "eth1", "nodad", "preferred_lft", "0"});
        h.ip({"addr", "add", "2001:db8:c::10/64", "dev", "eth2"});
        h.ip({"link", "add", "docker0", "type", "bridge"});
        h.ip({"addr", "add", "203.0.113.1/24", "dev", "docker0"});
        h.ip({"tuntap", "add", "dev", "tun0", "mode", "tun"});
        h.ip({"addr", "add", "198.51.100.200/32", "dev", "tun0"});
        for (const char* link : {"eth0", "eth1", "eth2", "docker0", "tun0"}) {
            h.ip({"link", "set", link, "up"});
        }
        // Link-local addresses appear once the links are up and become usable when duplicate
        // address detection ends: poll for eth0's (bounded readiness wait, 5 s at most).
        for (int i = 0; i < 500; ++i) {
            const std::string out = test::capture_command(
                {"ip", "-n", h.name(), "-6", "addr", "show", "dev", "eth0", "scope", "link"});
            if (out.find("fe80") != std::string::npos &&
                out.find("tentative") == std::string::npos) {
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
    }
    static void TearDownTestSuite() {
        delete host_;
        delete peer_;
        host_ = peer_ = nullptr;
    }

    GatherResult gather_inside(GatherOptions options) {
        test::EnterNetns inside(*host_);
        test::TestLoop t;
        Gatherer g(t.loop(), std::move(options));
        EXPECT_TRUE(g.gather());
        EXPECT_TRUE(t.run_until([&] { return g.complete(); }));
        for (const auto& s : g.take_sockets()) {
            close(s.fd);
        }
        return g.result();
    }

    static unsigned index_of(const char* name) {
        test::EnterNetns inside(*host_);
        return if_nametoindex(name);
    }

    static test::Netns* host_;
    static test::Netns* peer_;
};

test::Netns* HostLab::host_ = nullptr;
test::Netns* HostLab::peer_ = nullptr;

std::map<std::string, std::string> dropped_by_ip(const GatherResult& r) {
    std::map<std::string, std::string> out;
    for (const auto& d : r.dropped) {
        out[d.address] = d.reason;
    }
    return out;
}

} // namespace

TEST_F(HostLab, ExactlyTheExpectedCandidatesInRfc8421Order) {
    GatherOptions options;
    options.s5b = true;
    options.jid = "romeo@example.org/lab";
    options.s5b_port = 5086;
    const GatherResult r = gather_inside(options);

    std::vector<std::string> ice;
    for (const auto& c : r.ice) {
        ice.push_back(c.host + "%" + c.interface);
        EXPECT_EQ(c.ice()->type, IceType::Host);
    }
    EXPECT_EQ(ice, (std::vector<std::string>{"2001:db8:a::10%eth0", "192.0.2.10%eth0",
                                             "2001:db8:b::10%eth1", "198.51.100.10%eth1",
                                             "198.51.100.200%tun0"}));
    ASSERT_EQ(r.ice.size(), 5U);
    EXPECT_EQ(r.ice[0].ice()->network, index_of("eth0"));
    EXPECT_EQ(r.ice[2].ice()->network, index_of("eth1"));
    EXPECT_EQ(r.ice[4].ice()->network, index_of("tun0"));
    EXPECT_EQ(r.ice[0].priority, 2130706431U);
    EXPECT_EQ(r.ice[4].priority, (126U << 24) + (65531U << 8) + 255U) << "VPN last";

    ASSERT_EQ(r.s5b.size(), 5U);
    for (const auto& c : r.s5b) {
        EXPECT_EQ(c.port, 5086);
        EXPECT_EQ(c.s5b()->type, S5bType::Direct);
    }
}

TEST_F(HostLab, EveryLeftOutAddressHasItsReason) {
    const GatherResult r = gather_inside({});
    const auto dropped = dropped_by_ip(r);
    auto reason = [&](const std::string& ip) {
        auto it = dropped.find(ip);
        return it == dropped.end() ? std::string("(kept)") : it->second;
    };
    EXPECT_EQ(reason("127.0.0.1"), "loopback address");
    EXPECT_EQ(reason("::1"), "loopback address");
    EXPECT_EQ(reason("169.254.10.10"), "link-local address");
    EXPECT_EQ(reason("203.0.113.1"), "virtual bridge interface (container/VM plumbing)");
    EXPECT_EQ(reason("2001:db8:b::99"), "IPv6 address is deprecated (preferred lifetime expired)");
    EXPECT_EQ(reason("2001:db8:c::10"),
              "IPv6 address is tentative (duplicate address detection not finished)");
    int link_local_v6 = 0;
    for (const auto& [ip, why] : dropped) {
        if (ip.rfind("fe80:", 0) == 0) {
            ++link_local_v6;
            EXPECT_EQ(why, "link-local address") << ip;
        }
    }
    EXPECT_GE(link_local_v6, 1);
    // Nothing silently vanished: every enumerated address is a candidate or a drop.
    EXPECT_EQ(r.local_addresses.size(), r.ice.size() + r.dropped.size());
}

TEST_F(HostLab, OptionsChangeTheSetAsDocumented) {
    GatherOptions v4_eth1;
    v4_eth1.host.ipv6 = false;
    v4_eth1.host.allow_interfaces = {"eth1", "tun0"};
    v4_eth1.host.include_vpn = false;
    GatherResult r = gather_inside(v4_eth1);
    ASSERT_EQ(r.ice.size(), 1U);
    EXPECT_EQ(r.ice[0].host, "198.51.100.10");
    EXPECT_EQ(dropped_by_ip(r)["198.51.100.200"], "VPN/tunnel interface");

    GatherOptions loopback_and_bridges;
    loopback_and_bridges.host.include_loopback = true;
    loopback_and_bridges.host.include_virtual_bridges = true;
    loopback_and_bridges.host.deny_interfaces = {"eth0"};
    r = gather_inside(loopback_and_bridges);
    std::vector<std::string> hosts;
    for (const auto& c : r.ice) {
        hosts.push_back(c.host);
    }
    EXPECT_NE(std::find(hosts.begin(), hosts.end(), "127.0.0.1"), hosts.end());
    EXPECT_NE(std::find(hosts.begin(), hosts.end(), "::1"), hosts.end());
    EXPECT_NE(std::find(hosts.begin(), hosts.end(), "203.0.113.1"), hosts.end());
    EXPECT_EQ(std::find(hosts.begin(), hosts.end(), "192.0.2.10"), hosts.end());

    // Link-local bases bind with their interface as scope (RFC 4007 §6).
    GatherOptions link_local;
    link_local.host.include_link_local = true;
    link_local.host.allow_interfaces = {"eth0"};
    r = gather_inside(link_local);
    hosts.clear();
    for (const auto& c : r.ice) {
        hosts.push_back(c.host);
    }
    EXPECT_NE(std::find(hosts.begin(), hosts.end(), "169.254.10.10"), hosts.end());
    const bool has_fe80 = std::any_of(
        hosts.begin(), hosts.end(), [](const std::string& h) { return h.rfind("fe80:", 0) == 0; });
    std::string why;
    for (const auto& [ip, reason] : dropped_by_ip(r)) {
        why += ip + ": " + reason + "\n";
    }
    EXPECT_TRUE(has_fe80) << why;
}

TEST_F(HostLab, DemoPrintsReadableXepDocumentsForTheLab) {
    const char* demo = std::getenv("JGATHER_DEMO");
    ASSERT_NE(demo, nullptr) << "meson passes JGATHER_DEMO";
    const std::vector<std::string> exec = {"ip", "netns", "exec", host_->name(), demo};
    int status = -1;

    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> argv = exec;
        argv.insert(argv.end(), extra.begin(), extra.end());
        return test::capture_command(argv, &status);
    };

    auto ice = xep0176::read(with({"--format", "xep0176"}));
    ASSERT_EQ(status, 0);
    ASSERT_TRUE(ice) << ice.error().message;
    ASSERT_EQ(ice->candidates.size(), 5U);
    EXPECT_EQ(ice->candidates[0].host, "2001:db8:a::10");
    EXPECT_GE(ice->ufrag.size(), 4U);

    auto s5b = xep0260::read(with({"--format", "xep0260", "--jid", "romeo@example.org/lab", "--sid",
                                   "s1", "--s5b-port", "7000", "--external-ip", "203.0.113.99"}));
    ASSERT_EQ(status, 0);
    ASSERT_TRUE(s5b) << s5b.error().message;
    EXPECT_EQ(s5b->dstaddr,
              xep0260::dstaddr("s1", "romeo@example.org/lab", "peer@example.org/jgather"));
    ASSERT_EQ(s5b->candidates.size(), 6U);
    EXPECT_EQ(s5b->candidates.back().s5b()->type, S5bType::Assisted);
    EXPECT_EQ(s5b->candidates.back().host, "203.0.113.99");

    auto streamhosts = xep0065::read(
        with({"--format", "xep0065", "--jid", "romeo@example.org/lab", "--ipv4", "--sid", "s2"}));
    ASSERT_EQ(status, 0);
    ASSERT_TRUE(streamhosts) << streamhosts.error().message;
    EXPECT_EQ(streamhosts->streamhosts.size(), 3U); // 192.0.2.10, 198.51.100.10, tun0

    with({"--components", "0"});
    EXPECT_EQ(status, 2) << "usage errors exit 2";
    with({"--format", "xep0065"});
    EXPECT_EQ(status, 2) << "SOCKS5 output needs --jid: no made-up JID";
    with({"--jid", "romeo@example.org"});
    EXPECT_EQ(status, 2) << "SOCKS5 candidates need a full JID";
    with({"--stun", "192.0.2.1", "--stun-pacing", "2"});
    EXPECT_EQ(status, 2) << "Ta below RFC 8445 §14.2's 5 ms";
}
