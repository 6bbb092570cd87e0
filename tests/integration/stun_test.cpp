// The STUN source against real servers on loopback: coturn (IPv4 and IPv6) and ejabberd's
// built-in STUN (ejabberd_stun), started from the Debian packages. On loopback there is no NAT:
// every mapping equals its base, so the srflx is dropped with that reason and the verdict is
// "none" — what the NAT lab (tests/nat) shows for a public client.
#include <algorithm>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "support/stun_gather.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

class StunServers : public testing::Test {
protected:
    static void SetUpTestSuite() {
        coturn_v4_port_ = test::free_udp_port("127.0.0.1");
        coturn_v4_ = new test::Coturn("127.0.0.1", coturn_v4_port_);
        coturn_v6_port_ = test::free_udp_port("::1");
        coturn_v6_ = new test::Coturn("::1", coturn_v6_port_);
        test::XmppServerOptions options;
        options.stun_port = test::free_udp_port("127.0.0.1");
        ejabberd_ = new XmppServer(XmppServer::Kind::Ejabberd, options);
    }
    static void TearDownTestSuite() {
        delete coturn_v4_;
        delete coturn_v6_;
        delete ejabberd_;
        coturn_v4_ = coturn_v6_ = nullptr;
        ejabberd_ = nullptr;
    }

    static std::string coturn_v4() { return "127.0.0.1:" + std::to_string(coturn_v4_port_); }
    static std::string coturn_v6() { return "[::1]:" + std::to_string(coturn_v6_port_); }
    static std::string ejabberd_stun() {
        return "127.0.0.1:" + std::to_string(ejabberd_->options().stun_port);
    }

    static test::StunRun gather(const std::vector<std::string>& servers,
                                const std::vector<const char*>& base_ips = {"127.0.0.1"}) {
        return test::gather_with_stun(servers, {}, base_ips);
    }

    static unsigned no_nat_drops(const GatherResult& r) {
        return static_cast<unsigned>(
            std::count_if(r.dropped.begin(), r.dropped.end(), [](const DroppedAddress& d) {
                return d.reason.find("equals its base: no NAT") != std::string::npos;
            }));
    }

    static std::uint16_t coturn_v4_port_;
    static std::uint16_t coturn_v6_port_;
    static test::Coturn* coturn_v4_;
    static test::Coturn* coturn_v6_;
    static XmppServer* ejabberd_;
};

std::uint16_t StunServers::coturn_v4_port_ = 0;
std::uint16_t StunServers::coturn_v6_port_ = 0;
test::Coturn* StunServers::coturn_v4_ = nullptr;
test::Coturn* StunServers::coturn_v6_ = nullptr;
XmppServer* StunServers::ejabberd_ = nullptr;

} // namespace

TEST_F(StunServers, EachServerMapsTheBaseToItselfSoTheSrflxIsDroppedAsNoNat) {
    struct Case {
        std::string server;
        const char* base;
    };
    for (const Case& c : {Case{coturn_v4(), "127.0.0.1"}, Case{coturn_v6(), "::1"},
                          Case{ejabberd_stun(), "127.0.0.1"}}) {
        SCOPED_TRACE(c.server);
        const test::StunRun run = gather({c.server}, {c.base});
        EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
        EXPECT_TRUE(
            std::none_of(run.result.ice.begin(), run.result.ice.end(),
                         [](const Candidate& x) { return x.ice()->type == IceType::Srflx; }));
        EXPECT_EQ(no_nat_drops(run.result), 1U);
        // The finding stays: the server saw the base's own address and port.
        ASSERT_EQ(run.result.external_addresses.size(), 1U);
        const ExternalAddress& found = run.result.external_addresses[0];
        EXPECT_EQ(found.ip.to_string(), c.base);
        EXPECT_EQ(found.origin.source, "stun");
        EXPECT_EQ(found.origin.detail, c.server);
        ASSERT_EQ(run.result.ice.size(), 1U);
        EXPECT_EQ(found.observed_port, run.result.ice[0].port) << "the base's own port";
        EXPECT_EQ(run.result.network.nat, NetworkVerdict::Nat::None);
    }
}

TEST_F(StunServers, EachBaseAsksOnlyTheServersOfItsFamily) {
    const test::StunRun run =
        gather({coturn_v4(), coturn_v6(), ejabberd_stun()}, {"127.0.0.1", "::1"});
    EXPECT_EQ(run.stun.state, SourceState::Ok) << run.stun.error;
    EXPECT_TRUE(run.stun.error.empty()) << run.stun.error;
    // 127.0.0.1 → coturn v4 and ejabberd, ::1 → coturn v6: three mappings, one per pair.
    EXPECT_EQ(no_nat_drops(run.result), 3U);
    std::vector<std::string> seen;
    for (const auto& e : run.result.external_addresses) {
        seen.push_back(e.ip.to_string() + " via " + e.origin.detail);
    }
    std::sort(seen.begin(), seen.end());
    std::vector<std::string> expected = {"127.0.0.1 via " + coturn_v4(),
                                         "127.0.0.1 via " + ejabberd_stun(),
                                         "::1 via " + coturn_v6()};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(seen, expected);
}

TEST_F(StunServers, AHealthyServerCompletesTheSourceInAboutOneRoundTrip) {
    // Loopback round trips are well under a millisecond; allow for a loaded CI machine.
    const test::StunRun run = gather({coturn_v4()});
    EXPECT_EQ(run.stun.state, SourceState::Ok);
    EXPECT_LT(run.stun.elapsed, 100ms) << "not waiting for a timer";
}

TEST_F(StunServers, AClosedPortTimesOutWithinTheBudgetBesideAHealthyServer) {
    const std::string closed = "127.0.0.1:" + std::to_string(test::free_udp_port("127.0.0.1"));
    const auto start = std::chrono::steady_clock::now();
    const test::StunRun run = gather({closed, ejabberd_stun()});
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(run.stun.state, SourceState::Ok) << "ejabberd answered";
    EXPECT_NE(run.stun.error.find("no answer from " + closed + " within 400 ms"), std::string::npos)
        << run.stun.error;
    EXPECT_EQ(run.result.external_addresses.size(), 1U);
}
