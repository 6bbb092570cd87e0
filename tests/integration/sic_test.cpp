// Server IP Check against real servers (prosody 0.12 with mod_ipcheck, ejabberd 23.01 with
// mod_sic), both with STARTTLS and a throwaway CA, over the GLib adapter for gloox.
#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/sources/sic.hpp>

#include "support/glib_loop.hpp"
#include "support/local_address.hpp"
#include "support/xmpp_client.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

// Bases on 127.0.0.2/.3, and lo's 127.0.0.1 enumerated but not used: the server on this host
// sees the client at 127.0.0.1, a local address, so nothing is derived (no NAT). A loopback
// address that is not local could be nobody's external address and would fail the source; the
// derivation behind a real NAT is the nat suite's (nat_lab_test.cpp).
GatherOptions lab_options() {
    GatherOptions o;
    o.host.include_loopback = true;
    o.host.addresses = std::vector<LocalAddress>{test::local_address("127.0.0.2", "eth0", 2),
                                                 test::local_address("127.0.0.3", "eth1", 3),
                                                 test::local_address("127.0.0.1", "lo", 1)};
    o.host.deny_interfaces = {"lo"};
    o.deadline = 3000ms;
    o.s5b = true;
    o.jid = "romeo@example.org/lab";
    o.s5b_port = 5086;
    return o;
}

xmpp::ConnectOptions account(const XmppServer& server, std::string password = "secret123") {
    xmpp::ConnectOptions o;
    o.jid = "romeo@" + server.options().domain;
    o.password = std::move(password);
    o.host = server.options().ip;
    o.port = server.port();
    o.ca_file = server.ca_file();
    o.timeout = 10s;
    return o;
}

using test::connect_and_wait;

const SourceReport* report_of(const GatherResult& r, const std::string& name) {
    for (const auto& s : r.sources) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

GatherResult gather_with(test::TestLoop& t, std::unique_ptr<Source> source,
                         GatherOptions options = lab_options()) {
    Gatherer g(t.loop(), std::move(options));
    g.add_source(std::move(source));
    EXPECT_TRUE(g.gather());
    EXPECT_TRUE(t.run_until([&] { return g.complete(); }, 20s));
    return g.result();
}

struct Case {
    XmppServer::Kind kind;
    SicMode mode;
    const char* answered_ns;
    unsigned
        queries; // ejabberd rejects the spec's <ip/> (bad-request): the fallback is a 2nd query
    bool port;   // only sic:1 carries a port
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
    const char* mode = info.param.mode == SicMode::Auto   ? "auto"
                       : info.param.mode == SicMode::Sic1 ? "sic1"
                                                          : "sic0";
    return test::to_string(info.param.kind) + "_" + mode;
}

class SicOnRealServers : public testing::TestWithParam<Case> {};

} // namespace

TEST_P(SicOnRealServers, ReportsTheAddressTheServerSeesAndDerivesCandidates) {
    const Case c = GetParam();
    XmppServer server(c.kind);
    test::TestLoop t;
    xmpp::XmppConnection connection(t.context(), account(server));
    std::string why;
    ASSERT_TRUE(connect_and_wait(t, connection, &why)) << why << "\n" << server.log();
    SicService sic(connection, c.mode);

    const GatherResult r = gather_with(t, sic.source());
    const SourceReport* report = report_of(r, "sic");
    ASSERT_NE(report, nullptr);
    EXPECT_EQ(report->state, SourceState::Ok) << report->error;
    ASSERT_EQ(r.external_addresses.size(), 1U);
    const ExternalAddress& found = r.external_addresses[0];
    EXPECT_EQ(found.ip.to_string(), "127.0.0.1");
    EXPECT_EQ(found.origin.source, "sic");
    EXPECT_EQ(found.origin.detail, "example.org (" + std::string(c.answered_ns) + ")");
    EXPECT_EQ(found.observed_port.has_value(), c.port);
    EXPECT_EQ(sic.queries_sent(), c.queries);

    // design.md §2: the external IP is a local address (no NAT): nothing derived, with why.
    for (const auto& cand : r.ice) {
        EXPECT_EQ(cand.ice()->type, IceType::Host);
    }
    for (const auto& cand : r.s5b) {
        EXPECT_EQ(cand.s5b()->type, S5bType::Direct);
    }
    const auto no_nat = std::count_if(r.dropped.begin(), r.dropped.end(), [](const auto& d) {
        return d.address == "127.0.0.1" &&
               d.reason.find("is a local address (no NAT)") != std::string::npos;
    });
    EXPECT_EQ(no_nat, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Servers, SicOnRealServers,
    testing::Values(Case{XmppServer::Kind::Prosody, SicMode::Auto, "sic:1", 1, true},
                    Case{XmppServer::Kind::Prosody, SicMode::Sic1, "sic:1", 1, true},
                    Case{XmppServer::Kind::Prosody, SicMode::Sic0, "sic:0", 1, false},
                    Case{XmppServer::Kind::Ejabberd, SicMode::Auto, "sic:1", 1, true},
                    Case{XmppServer::Kind::Ejabberd, SicMode::Sic1, "sic:1", 1, true},
                    Case{XmppServer::Kind::Ejabberd, SicMode::Sic0, "sic:0", 2, false}),
    case_name);

TEST(Sic, OneQueryPerConnectionSharedByConcurrentAndLaterGatherings) {
    XmppServer server(XmppServer::Kind::Prosody);
    test::TestLoop t;
    xmpp::XmppConnection connection(t.context(), account(server));
    ASSERT_TRUE(connect_and_wait(t, connection)) << server.log();
    SicService sic(connection);

    Gatherer a(t.loop(), lab_options());
    Gatherer b(t.loop(), lab_options());
    a.add_source(sic.source());
    b.add_source(sic.source());
    ASSERT_TRUE(a.gather());
    ASSERT_TRUE(b.gather());
    ASSERT_TRUE(t.run_until([&] { return a.complete() && b.complete(); }, 20s));
    EXPECT_EQ(a.result().external_addresses.size(), 1U);
    EXPECT_EQ(b.result().external_addresses.size(), 1U);
    EXPECT_EQ(sic.queries_sent(), 1U) << "concurrent gatherings share the in-flight query";

    const GatherResult later = gather_with(t, sic.source());
    EXPECT_EQ(later.external_addresses.size(), 1U);
    EXPECT_EQ(sic.queries_sent(), 1U) << "a later gathering reuses the answer";

    // A new connection asks again.
    test::disconnect_and_wait(t, connection);
    ASSERT_TRUE(connect_and_wait(t, connection)) << server.log();
    const GatherResult after = gather_with(t, sic.source());
    EXPECT_EQ(after.external_addresses.size(), 1U);
    EXPECT_EQ(sic.queries_sent(), 2U);
}

TEST(Sic, ModuleDisabledGivesAClearFailureAndHostCandidatesStillArrive) {
    test::XmppServerOptions without_sic;
    without_sic.sic = false;
    for (auto kind : {XmppServer::Kind::Prosody, XmppServer::Kind::Ejabberd}) {
        XmppServer server(kind, without_sic);
        test::TestLoop t;
        xmpp::XmppConnection connection(t.context(), account(server));
        ASSERT_TRUE(connect_and_wait(t, connection)) << server.log();

        SicService discovering(connection, SicMode::Auto);
        GatherResult r = gather_with(t, discovering.source());
        ASSERT_NE(report_of(r, "sic"), nullptr);
        EXPECT_EQ(report_of(r, "sic")->state, SourceState::Failed);
        EXPECT_NE(
            report_of(r, "sic")->error.find("does not advertise urn:xmpp:sic:1 or urn:xmpp:sic:0"),
            std::string::npos)
            << report_of(r, "sic")->error;
        EXPECT_EQ(r.ice.size(), 2U) << "host candidates are delivered regardless";

        SicService forced(connection, SicMode::Sic1);
        r = gather_with(t, forced.source());
        EXPECT_EQ(report_of(r, "sic")->state, SourceState::Failed);
        EXPECT_NE(report_of(r, "sic")->error.find("service-unavailable"), std::string::npos)
            << test::to_string(kind) << ": " << report_of(r, "sic")->error;
    }
}

TEST(Sic, WrongPasswordFailsTheConnectionAndTheSourceSaysNotConnected) {
    XmppServer server(XmppServer::Kind::Prosody);
    test::TestLoop t;
    xmpp::XmppConnection connection(t.context(), account(server, "wrong"));
    std::string why;
    EXPECT_FALSE(connect_and_wait(t, connection, &why));
    EXPECT_EQ(why, "authentication failed");
    SicService sic(connection);
    const GatherResult r = gather_with(t, sic.source());
    EXPECT_EQ(report_of(r, "sic")->state, SourceState::Failed);
    EXPECT_EQ(report_of(r, "sic")->error, "not connected to the XMPP server");
    EXPECT_EQ(r.ice.size(), 2U);
    EXPECT_EQ(sic.queries_sent(), 0U);
}

TEST(Sic, ServerNotRunningIsAConnectionRefused) {
    test::TestLoop t;
    xmpp::ConnectOptions o;
    o.jid = "romeo@example.org";
    o.password = "secret123";
    o.host = "127.0.0.1";
    o.port = test::free_tcp_port();
    o.insecure = true;
    xmpp::XmppConnection connection(t.context(), o);
    std::string why;
    EXPECT_FALSE(connect_and_wait(t, connection, &why));
    EXPECT_EQ(why, "connection refused");
}

TEST(Sic, UntrustedCertificateIsRejectedUnlessInsecure) {
    XmppServer server(XmppServer::Kind::Prosody);
    test::TestLoop t;
    auto options = account(server);
    options.ca_file = "/etc/ssl/certs/ca-certificates.crt"; // public CAs: not ours
    if (!std::ifstream(options.ca_file)) {
        options.ca_file = server.ca_file() + ".missing";
    }
    {
        xmpp::XmppConnection connection(t.context(), options);
        std::string why;
        EXPECT_FALSE(connect_and_wait(t, connection, &why));
        EXPECT_NE(why.find("certificate rejected"), std::string::npos) << why;
    }
    options.ca_file.clear();
    options.insecure = true;
    xmpp::XmppConnection insecure(t.context(), options);
    EXPECT_TRUE(connect_and_wait(t, insecure));
}

TEST(Sic, ServerStoppedMidQueryEndsTheSourceWithAClearStatusByTheDeadline) {
    XmppServer server(XmppServer::Kind::Prosody);
    test::TestLoop t;
    xmpp::XmppConnection connection(t.context(), account(server));
    ASSERT_TRUE(connect_and_wait(t, connection)) << server.log();
    SicService sic(connection, SicMode::Sic1);

    // Frozen: the query is sent and never answered; the deadline ends the source.
    server.freeze();
    auto options = lab_options();
    options.deadline = 300ms;
    const auto start = std::chrono::steady_clock::now();
    GatherResult r = gather_with(t, sic.source(), options);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    EXPECT_EQ(report_of(r, "sic")->state, SourceState::TimedOut);
    EXPECT_EQ(r.ice.size(), 2U);

    // Killed while a second gathering waits on the same in-flight query: the connection drops
    // and the source fails with the reason, well before its deadline.
    options.deadline = 10s;
    Gatherer g(t.loop(), options);
    g.add_source(sic.source());
    ASSERT_TRUE(g.gather());
    t.run_until([] { return false; }, 50ms); // the source has started and waits
    server.kill();
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    ASSERT_NE(report_of(g.result(), "sic"), nullptr);
    EXPECT_EQ(report_of(g.result(), "sic")->state, SourceState::Failed);
    EXPECT_NE(report_of(g.result(), "sic")->error.find("disconnected while waiting"),
              std::string::npos)
        << report_of(g.result(), "sic")->error;
    EXPECT_FALSE(connection.connected());
}
