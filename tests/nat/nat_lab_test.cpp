// Server IP Check and STUN behind real NATs: the lab of scripts/lab.sh (Linux MASQUERADE
// routers in network namespaces), prosody, ejabberd (with its STUN listener) and coturn on the
// "public" side, clients behind the first NAT, behind a second NAT, and on a public address.
#include <algorithm>
#include <memory>

#include <gtest/gtest.h>

#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/sources/sic.hpp>
#include <jgather/sources/stun.hpp>

#include "support/glib_loop.hpp"
#include "support/netns.hpp"
#include "support/xmpp_client.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

class BehindNat : public testing::Test {
protected:
    static void SetUpTestSuite() {
        lab_ = new test::NatLab();
        test::XmppServerOptions prosody;
        prosody.netns = lab_->ns("srv");
        prosody.ip = "203.0.113.1";
        prosody.ip6 = "2001:db8:0:1::1";
        prosody.port = 5222;
        test::XmppServerOptions ejabberd = prosody;
        ejabberd.port = 5223;
        ejabberd.stun_port = 3479; // ejabberd_stun beside coturn's 3478
        prosody_ = new XmppServer(XmppServer::Kind::Prosody, prosody);
        ejabberd_ = new XmppServer(XmppServer::Kind::Ejabberd, ejabberd);
        coturn_ = new test::Coturn("203.0.113.1", 3478, lab_->ns("srv"));
        coturn6_ = new test::Coturn("2001:db8:0:1::1", 3478, lab_->ns("srv"));
    }
    static void TearDownTestSuite() {
        delete coturn_;
        delete coturn6_;
        coturn_ = coturn6_ = nullptr;
        delete prosody_;
        delete ejabberd_;
        delete lab_; // after the servers: they live in its namespaces
        prosody_ = ejabberd_ = nullptr;
        lab_ = nullptr;
    }

    // Gathers from @p host's namespace with STUN only (from IPv4 bases only unless @p ipv6).
    static GatherResult stun_from(const std::string& host, std::vector<std::string> servers,
                                  bool ipv6 = false) {
        test::EnterNetns inside(lab_->ns(host));
        test::TestLoop t;
        StunOptions stun;
        for (const auto& s : servers) {
            stun.servers.push_back(*StunSource::parse_server(s));
        }
        GatherOptions options;
        options.s5b = true;
        options.jid = "romeo@example.org/lab";
        options.s5b_port = 5086;
        options.host.ipv6 = ipv6;
        Gatherer g(t.loop(), options);
        g.add_source(std::make_unique<StunSource>(stun));
        EXPECT_TRUE(g.gather());
        EXPECT_TRUE(t.run_until([&] { return g.complete(); }, 10s));
        return g.result();
    }

    // Connects from @p host's namespace to @p server and gathers with SIC (and STUN) there.
    static GatherResult gather_from(const std::string& host, const XmppServer& server,
                                    bool with_stun = false, bool over_ipv6 = false) {
        test::EnterNetns inside(lab_->ns(host));
        test::TestLoop t;
        xmpp::ConnectOptions account;
        account.jid = "romeo@example.org";
        account.password = "secret123";
        account.host = over_ipv6 ? server.options().ip6 : server.options().ip;
        account.port = server.port();
        account.ca_file = server.ca_file();
        xmpp::XmppConnection connection(t.context(), account);
        std::string why;
        EXPECT_TRUE(test::connect_and_wait(t, connection, &why)) << host << ": " << why << "\n"
                                                                 << server.log();

        SicService sic(connection);
        GatherOptions options;
        options.s5b = true;
        options.jid = connection.client().jid().full();
        options.s5b_port = 5086;
        // SIC learns the NAT of the family the XMPP connection uses: gather from that one.
        options.host.ipv4 = !over_ipv6;
        options.host.ipv6 = over_ipv6;
        Gatherer g(t.loop(), options);
        g.add_source(sic.source());
        if (with_stun) {
            StunOptions stun;
            stun.servers = {*StunSource::parse_server("203.0.113.1:3478")};
            g.add_source(std::make_unique<StunSource>(stun));
        }
        EXPECT_TRUE(g.gather());
        EXPECT_TRUE(t.run_until([&] { return g.complete(); }, 20s));
        return g.result();
    }

    static test::NatLab* lab_;
    static XmppServer* prosody_;
    static XmppServer* ejabberd_;
    static test::Coturn* coturn_;
    static test::Coturn* coturn6_;
};

test::NatLab* BehindNat::lab_ = nullptr;
XmppServer* BehindNat::prosody_ = nullptr;
XmppServer* BehindNat::ejabberd_ = nullptr;
test::Coturn* BehindNat::coturn_ = nullptr;
test::Coturn* BehindNat::coturn6_ = nullptr;

std::vector<const Candidate*> of_type(const std::vector<Candidate>& list, IceType type) {
    std::vector<const Candidate*> out;
    for (const auto& c : list) {
        if (c.ice()->type == type) {
            out.push_back(&c);
        }
    }
    return out;
}

// How many dropped addresses have a reason containing @p text.
long drop_reasons(const GatherResult& r, const std::string& text) {
    return std::count_if(r.dropped.begin(), r.dropped.end(), [&](const DroppedAddress& d) {
        return d.reason.find(text) != std::string::npos;
    });
}

std::string sic_error(const GatherResult& r) {
    for (const auto& s : r.sources) {
        if (s.name == "sic") {
            return std::string(to_string(s.state)) + " " + s.error;
        }
    }
    return "(no sic report)";
}

} // namespace

TEST_F(BehindNat, ClientsBehindEachNatLearnTheirNatsAddressOnBothServers) {
    struct Expect {
        const char* host;
        const char* base;
        const char* external;
    };
    for (const XmppServer* server : {prosody_, ejabberd_}) {
        for (const Expect& e : {Expect{"c1", "192.0.2.10", "203.0.113.2"},
                                Expect{"c2", "198.51.100.10", "203.0.113.3"}}) {
            SCOPED_TRACE(std::string(e.host) + " on port " + std::to_string(server->port()));
            const GatherResult r = gather_from(e.host, *server);
            ASSERT_EQ(r.external_addresses.size(), 1U) << sic_error(r);
            EXPECT_EQ(r.external_addresses[0].ip.to_string(), e.external);
            EXPECT_EQ(r.external_addresses[0].origin.source, "sic");

            // Exactly: one host candidate (the LAN address) and one srflx derived from it.
            const auto hosts = of_type(r.ice, IceType::Host);
            const auto srflx = of_type(r.ice, IceType::Srflx);
            ASSERT_EQ(hosts.size(), 1U);
            ASSERT_EQ(srflx.size(), 1U);
            EXPECT_EQ(hosts[0]->host, e.base);
            EXPECT_EQ(srflx[0]->host, e.external);
            EXPECT_EQ(srflx[0]->port, hosts[0]->port) << "a guess: the base's own port";
            ASSERT_TRUE(srflx[0]->ice()->related);
            EXPECT_EQ(srflx[0]->ice()->related->to_string(),
                      std::string(e.base) + ":" + std::to_string(hosts[0]->port));
            EXPECT_NE(srflx[0]->ice()->foundation, hosts[0]->ice()->foundation);

            ASSERT_EQ(r.s5b.size(), 2U);
            EXPECT_EQ(r.s5b[0].s5b()->type, S5bType::Direct);
            EXPECT_EQ(r.s5b[0].host, e.base);
            EXPECT_EQ(r.s5b[1].s5b()->type, S5bType::Assisted);
            EXPECT_EQ(r.s5b[1].host, e.external);
            EXPECT_EQ(r.s5b[1].port, 5086);
        }
    }
}

TEST_F(BehindNat, PublicClientGetsNothingDerivedAndTheReason) {
    for (const XmppServer* server : {prosody_, ejabberd_}) {
        const GatherResult r = gather_from("pub", *server);
        ASSERT_EQ(r.external_addresses.size(), 1U) << sic_error(r);
        EXPECT_EQ(r.external_addresses[0].ip.to_string(), "203.0.113.50");
        EXPECT_TRUE(of_type(r.ice, IceType::Srflx).empty());
        EXPECT_EQ(r.s5b.size(), 1U) << "no assisted candidate";
        const bool explained =
            std::any_of(r.dropped.begin(), r.dropped.end(), [](const DroppedAddress& d) {
                return d.address == "203.0.113.50" &&
                       d.reason.find("is a local address (no NAT)") != std::string::npos;
            });
        EXPECT_TRUE(explained);
    }
}

TEST_F(BehindNat, SicOverIpv6LearnsTheNat66AddressOrNothingWhereIpv6IsRouted) {
    for (const XmppServer* server : {prosody_, ejabberd_}) {
        SCOPED_TRACE(
            to_string(server == prosody_ ? XmppServer::Kind::Prosody : XmppServer::Kind::Ejabberd));
        // c1: NAT66 — the server sees nat1's WAN address: a derived srflx and assisted.
        const GatherResult r1 = gather_from("c1", *server, false, true);
        ASSERT_EQ(r1.external_addresses.size(), 1U) << sic_error(r1);
        EXPECT_EQ(r1.external_addresses[0].ip.to_string(), "2001:db8:0:1::2");
        const auto hosts = of_type(r1.ice, IceType::Host);
        const auto srflx = of_type(r1.ice, IceType::Srflx);
        ASSERT_EQ(hosts.size(), 1U);
        ASSERT_EQ(srflx.size(), 1U);
        EXPECT_EQ(hosts[0]->host, "2001:db8:0:10::10");
        EXPECT_EQ(srflx[0]->host, "2001:db8:0:1::2");
        EXPECT_EQ(srflx[0]->port, hosts[0]->port) << "a guess: the base's own port";
        ASSERT_EQ(r1.s5b.size(), 2U);
        EXPECT_EQ(r1.s5b[1].s5b()->type, S5bType::Assisted);
        EXPECT_EQ(r1.s5b[1].host, "2001:db8:0:1::2");
        EXPECT_EQ(r1.network.ipv6, NetworkVerdict::Nat::Nat);

        // c2: IPv6 routed — the server sees c2's own address: nothing derived, with the reason.
        const GatherResult r2 = gather_from("c2", *server, false, true);
        ASSERT_EQ(r2.external_addresses.size(), 1U) << sic_error(r2);
        EXPECT_EQ(r2.external_addresses[0].ip.to_string(), "2001:db8:0:20::10");
        EXPECT_TRUE(of_type(r2.ice, IceType::Srflx).empty());
        EXPECT_EQ(r2.network.ipv6, NetworkVerdict::Nat::None);
        const bool explained = drop_reasons(r2, "is a local address (no NAT)") > 0;
        EXPECT_TRUE(explained);
    }
}

TEST_F(BehindNat, StunMapsEachBaseThroughTheNatOnCoturnAndEjabberd) {
    struct Expect {
        const char* host;
        const char* base;
        const char* external;
    };
    for (const Expect& e : {Expect{"c1", "192.0.2.10", "203.0.113.2"},
                            Expect{"c2", "198.51.100.10", "203.0.113.3"}}) {
        SCOPED_TRACE(e.host);
        const GatherResult r = stun_from(e.host, {"203.0.113.1:3478", "203.0.113.1:3479"});
        const auto hosts = of_type(r.ice, IceType::Host);
        const auto srflx = of_type(r.ice, IceType::Srflx);
        ASSERT_EQ(hosts.size(), 1U);
        // Both servers see the same mapping from the same socket: the second is redundant
        // (RFC 8445 §5.1.3), so exactly one srflx, with its reason for the other.
        ASSERT_EQ(srflx.size(), 1U) << sic_error(r);
        EXPECT_EQ(srflx[0]->host, e.external);
        EXPECT_EQ(srflx[0]->origin.source, "stun");
        ASSERT_TRUE(srflx[0]->ice()->related);
        EXPECT_EQ(srflx[0]->ice()->related->ip.to_string(), e.base);
        EXPECT_EQ(srflx[0]->ice()->related->port, hosts[0]->port);
        EXPECT_EQ(srflx[0]->port, hosts[0]->port) << "Linux MASQUERADE preserves the port";
        EXPECT_GT(srflx[0]->priority, (100U << 24) | (32768U << 8)) << "verified: upper band";
        const bool redundant = drop_reasons(r, "redundant") > 0;
        EXPECT_TRUE(redundant);
        ASSERT_EQ(r.external_addresses.size(), 2U) << "one finding per server";
        EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::Nat);
        EXPECT_EQ(r.network.port_preserved, true) << "Linux MASQUERADE preserves ports";
        EXPECT_TRUE(r.network.notes.empty()) << r.network.notes.front();
        // S5B: direct + one assisted from the STUN finding (the second is redundant).
        ASSERT_EQ(r.s5b.size(), 2U);
        EXPECT_EQ(r.s5b[1].s5b()->type, S5bType::Assisted);
        EXPECT_EQ(r.s5b[1].host, e.external);
    }
}

TEST_F(BehindNat, StunOnAPublicAddressDropsTheSrflxEqualToItsBase) {
    const GatherResult r = stun_from("pub", {"203.0.113.1:3478"});
    EXPECT_TRUE(of_type(r.ice, IceType::Srflx).empty());
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::None);
    const bool explained = drop_reasons(r, "equals its base: no NAT") > 0;
    EXPECT_TRUE(explained);
}

TEST_F(BehindNat, ADeadStunServerCostsNoMoreThanItsBudgetAndHostCandidatesComeFirst) {
    const auto start = std::chrono::steady_clock::now();
    const GatherResult r = stun_from("c1", {"203.0.113.1:3999"});
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 1s);
    EXPECT_GE(r.elapsed, 390ms);
    EXPECT_EQ(sic_error(r), "(no sic report)");
    const auto stun = std::find_if(r.sources.begin(), r.sources.end(),
                                   [](const SourceReport& s) { return s.name == "stun"; });
    ASSERT_NE(stun, r.sources.end());
    EXPECT_EQ(stun->state, SourceState::TimedOut);
    EXPECT_NE(stun->error.find("no answer from 203.0.113.1:3999"), std::string::npos)
        << stun->error;
    EXPECT_EQ(of_type(r.ice, IceType::Host).size(), 1U);
    EXPECT_LT(r.sources.front().elapsed, 50ms) << "host reported at once";
}

TEST_F(BehindNat, SicAndStunTogetherKeepTheVerifiedSrflxAndBothFindings) {
    for (const XmppServer* server : {prosody_, ejabberd_}) {
        const GatherResult r = gather_from("c1", *server, true);
        const auto srflx = of_type(r.ice, IceType::Srflx);
        ASSERT_EQ(srflx.size(), 1U) << sic_error(r);
        EXPECT_EQ(srflx[0]->origin.source, "stun");
        EXPECT_EQ(srflx[0]->host, "203.0.113.2");
        EXPECT_EQ(r.external_addresses.size(), 2U) << "SIC's finding is kept beside STUN's";
    }
}

TEST_F(BehindNat, DualStackBasesAreMappedByTheServerOfTheirOwnFamilyThroughNat44AndNat66) {
    // c1: IPv4 and IPv6 both MASQUERADEd by nat1.
    const GatherResult r = stun_from("c1", {"203.0.113.1:3478", "[2001:db8:0:1::1]:3478"}, true);
    const auto hosts = of_type(r.ice, IceType::Host);
    const auto srflx = of_type(r.ice, IceType::Srflx);
    ASSERT_EQ(hosts.size(), 2U);
    ASSERT_EQ(srflx.size(), 2U);
    for (const Candidate* c : srflx) {
        ASSERT_TRUE(c->ice()->related);
        const std::string base = c->ice()->related->ip.to_string();
        ASSERT_TRUE(base == "192.0.2.10" || base == "2001:db8:0:10::10") << base;
        EXPECT_EQ(c->host, base == "192.0.2.10" ? "203.0.113.2" : "2001:db8:0:1::2");
        EXPECT_EQ(c->port, c->ice()->related->port) << "MASQUERADE preserves the port";
        EXPECT_EQ(c->ip()->family(), c->ice()->related->ip.family());
    }
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.ipv4, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.ipv6, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.port_preserved, true);
    EXPECT_TRUE(r.network.notes.empty()) << r.network.notes.front();
    EXPECT_EQ(r.external_addresses.size(), 2U);
}

TEST_F(BehindNat, TheUsualDualStackHomeIsIpv4NatAndGlobalIpv6) {
    // c2: nat2 MASQUERADEs IPv4 and routes IPv6.
    const GatherResult r = stun_from("c2", {"203.0.113.1:3478", "[2001:db8:0:1::1]:3478"}, true);
    const auto srflx = of_type(r.ice, IceType::Srflx);
    ASSERT_EQ(srflx.size(), 1U);
    EXPECT_EQ(srflx[0]->host, "203.0.113.3");
    const bool v6_dropped =
        std::any_of(r.dropped.begin(), r.dropped.end(), [](const DroppedAddress& d) {
            return d.address.find("2001:db8:0:20::10") != std::string::npos &&
                   d.reason.find("equals its base: no NAT") != std::string::npos;
        });
    EXPECT_TRUE(v6_dropped);
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.ipv4, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.ipv6, NetworkVerdict::Nat::None);
    EXPECT_EQ(r.network.notes, std::vector<std::string>{"IPv4 goes through a NAT, IPv6 does not"});
}

TEST_F(BehindNat, APublicDualStackHostIsSeenAsItselfInBothFamilies) {
    const GatherResult r = stun_from("pub", {"203.0.113.1:3478", "[2001:db8:0:1::1]:3478"}, true);
    EXPECT_EQ(of_type(r.ice, IceType::Host).size(), 2U);
    EXPECT_TRUE(of_type(r.ice, IceType::Srflx).empty());
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::None);
    EXPECT_EQ(r.network.ipv4, NetworkVerdict::Nat::None);
    EXPECT_EQ(r.network.ipv6, NetworkVerdict::Nat::None);
    EXPECT_TRUE(r.network.notes.empty()) << r.network.notes.front();
    const auto no_nat = drop_reasons(r, "equals its base: no NAT");
    EXPECT_EQ(no_nat, 2);
}
