// SOCKS5 bytestreams across the NAT lab (scripts/lab.sh), with prosody's and ejabberd's proxy65
// in the "Internet" namespace: a NATed client reaches a public one directly; two NATed clients
// cannot reach each other's direct or assisted candidates (the NATs drop unsolicited packets:
// a black hole, not a refusal), so the proxy connects, after one stagger step per dead
// candidate rather than TCP's SYN retries; a forwarded port (a DNAT rule on the NAT) makes the
// assisted candidate win. Sockets belong to the namespace they are made in: each side's work
// runs with the test thread inside its host's namespace.
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <jgather/gatherer.hpp>
#include <jgather/gloox.hpp>
#include <jgather/s5b.hpp>
#include <jgather/sources/proxy65.hpp>
#include <jgather/sources/sic.hpp>
#include <jgather/xep0260.hpp>

#include "support/glib_loop.hpp"
#include "support/netns.hpp"
#include "support/xmpp_client.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

constexpr auto kStagger = 250ms;

// One side of a transfer: an XMPP session from its lab host, a gathering there (SIC for the
// assisted candidate, proxy65 for the proxy), and an acceptor on the gathering's listener.
struct Side {
    Side(test::TestLoop& loop, const std::string& netns, const XmppServer& server,
         const std::string& user)
        : netns(netns) {
        test::EnterNetns inside(netns);
        connection =
            std::make_unique<xmpp::XmppConnection>(loop.context(), test::account_on(server, user));
        std::string why;
        connected = test::connect_and_wait(loop, *connection, &why);
        EXPECT_TRUE(connected) << netns << ": " << why << "\n" << server.log();
        if (!connected) {
            return;
        }
        jid = connection->client().jid().full();
        sic = std::make_unique<SicService>(*connection);
        proxies = std::make_unique<Proxy65Service>(*connection);
        GatherOptions options;
        options.ice = false;
        options.s5b = true;
        options.jid = jid;
        options.host.ipv6 = false; // the lab's IPv4 NATs are what this is about
        Gatherer gatherer(loop.loop(), options);
        gatherer.add_source(sic->source());
        gatherer.add_source(proxies->source());
        EXPECT_TRUE(gatherer.gather());
        EXPECT_TRUE(loop.run_until([&] { return gatherer.complete(); }, 20s));
        candidates = gatherer.result().s5b;
        port = gatherer.result().s5b_port;
        acceptor =
            std::make_unique<s5b::Acceptor>(loop.loop(), s5b::Socket(gatherer.take_s5b_listener()));
        EXPECT_TRUE(acceptor->start());
        acceptor->on_stream = [this](s5b::AcceptedStream s) {
            accepted = std::move(s);
        };
    }

    const Candidate* of_type(S5bType type) const {
        for (const Candidate& c : candidates) {
            if (c.s5b()->type == type) {
                return &c;
            }
        }
        return nullptr;
    }

    std::string netns;
    bool connected = false;
    std::string jid;
    std::unique_ptr<xmpp::XmppConnection> connection;
    std::unique_ptr<SicService> sic;
    std::unique_ptr<Proxy65Service> proxies;
    std::vector<Candidate> candidates;
    std::uint16_t port = 0;
    std::unique_ptr<s5b::Acceptor> acceptor;
    std::optional<s5b::AcceptedStream> accepted;
};

// Tries @p candidates from @p netns (every attempt's socket is made there).
s5b::ConnectReport connect_from(test::TestLoop& loop, const std::string& netns,
                                std::vector<Candidate> candidates, const std::string& dstaddr) {
    test::EnterNetns inside(netns);
    s5b::ConnectOptions options;
    options.dstaddr = dstaddr;
    options.stagger = kStagger;
    options.attempt_timeout = 5000ms;
    std::optional<s5b::ConnectReport> report;
    s5b::Connector connector(loop.loop(), std::move(candidates), options);
    connector.on_done = [&](s5b::ConnectReport r) {
        report = std::move(r);
    };
    EXPECT_TRUE(connector.start());
    EXPECT_TRUE(loop.run_until([&] { return report.has_value(); }, 20s));
    return report ? std::move(*report) : s5b::ConnectReport{};
}

std::string describe(const s5b::ConnectReport& report) {
    std::string out = report.error;
    for (const s5b::Attempt& a : report.attempts) {
        out += "\n  " + std::string(to_string(a.candidate.s5b()->type)) + " " + a.candidate.host +
               ":" + std::to_string(a.candidate.port) + " " + std::string(to_string(a.result)) +
               " started " + std::to_string(a.started.count()) + " ms " + a.reason;
    }
    return out;
}

// Sends @p data on @p from while reading it on @p to (both non-blocking; the other end is
// another namespace's socket or the proxy: wait on the sockets, not on the loop). Returns how
// many bytes arrived and whether they were the ones sent. With @p close_after the sender shuts
// its side down once everything is sent: prosody's proxy65 holds the last 4 KiB of a burst
// (its link buffer) until more data or the end of the stream comes.
struct Carried {
    std::size_t bytes = 0;
    bool intact = false;
};
Carried carry(int from, int to, const std::string& data, bool close_after = false) {
    std::size_t sent = 0;
    std::string out;
    while (out.size() < data.size()) {
        pollfd fds[2] = {{from, static_cast<short>(sent < data.size() ? POLLOUT : 0), 0},
                         {to, POLLIN, 0}};
        if (poll(fds, 2, 5000) <= 0) {
            break;
        }
        if (sent < data.size() && (fds[0].revents & POLLOUT)) {
            const ssize_t n =
                send(from, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            sent += n > 0 ? static_cast<std::size_t>(n) : 0;
            if (sent == data.size() && close_after) {
                shutdown(from, SHUT_WR); // end of file, as a sender does
            }
        }
        if (fds[1].revents & POLLIN) {
            char buffer[65536];
            const ssize_t n = recv(to, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n <= 0) {
                break;
            }
            out.append(buffer, static_cast<std::size_t>(n));
        }
    }
    return {out.size(), out == data};
}

class S5bAcrossNats : public ::testing::TestWithParam<XmppServer::Kind> {
protected:
    static void SetUpTestSuite() { lab_ = new test::LabWithProxies(); }
    static void TearDownTestSuite() {
        delete lab_;
        lab_ = nullptr;
    }
    static const XmppServer& server() { return lab_->server(GetParam()); }
    static std::string ns(const std::string& host) { return lab_->lab().ns(host); }

    static test::LabWithProxies* lab_;
};

test::LabWithProxies* S5bAcrossNats::lab_ = nullptr;

} // namespace

TEST_P(S5bAcrossNats, ANatedClientReachesAPublicOneDirectly) {
    test::TestLoop loop;
    Side pub(loop, ns("pub"), server(), "romeo");
    ASSERT_TRUE(pub.connected);
    const Candidate* direct = pub.of_type(S5bType::Direct);
    ASSERT_NE(direct, nullptr);
    EXPECT_EQ(direct->host, "203.0.113.50");
    const std::string dstaddr = xep0260::dstaddr("pub-sid", pub.jid, "juliet@example.org/x");
    ASSERT_TRUE(pub.acceptor->expect(dstaddr));

    const auto report = connect_from(loop, ns("c2"), pub.candidates, dstaddr);
    ASSERT_TRUE(report.winner) << describe(report);
    EXPECT_EQ(report.attempts[*report.winner].candidate.s5b()->type, S5bType::Direct)
        << describe(report);
    EXPECT_LT(report.elapsed, kStagger) << describe(report);
    ASSERT_TRUE(loop.run_until([&] { return pub.accepted.has_value(); }, 5s));
    EXPECT_EQ(pub.accepted->peer.ip.to_string(), "203.0.113.3"); // nat2's public address
    const std::string file(1 << 20, 'x');
    const Carried carried = carry(report.socket.fd(), pub.accepted->socket.fd(), file);
    EXPECT_EQ(carried.bytes, file.size());
    EXPECT_TRUE(carried.intact);
}

TEST_P(S5bAcrossNats, TwoNatedClientsMeetAtTheProxyAfterOneStaggerStepPerDeadCandidate) {
    test::TestLoop loop;
    Side romeo(loop, ns("c1"), server(), "romeo");
    ASSERT_TRUE(romeo.connected);
    const Candidate* assisted = romeo.of_type(S5bType::Assisted);
    const Candidate* proxy = romeo.of_type(S5bType::Proxy);
    ASSERT_NE(assisted, nullptr) << "SIC should have given nat1's address";
    ASSERT_NE(proxy, nullptr);
    EXPECT_EQ(assisted->host, "203.0.113.2");
    EXPECT_EQ(proxy->host, "203.0.113.1");

    // juliet (behind nat2) tries romeo's candidates: direct 192.0.2.10 (unroutable from her:
    // the lab's sink) and assisted 203.0.113.2 (nat1 drops it) are black holes.
    const std::string sid = "nat-proxy-sid";
    const std::string target = "juliet@example.org/x";
    const std::string dstaddr = xep0260::dstaddr(sid, romeo.jid, target);
    ASSERT_TRUE(romeo.acceptor->expect(dstaddr));
    const auto report = connect_from(loop, ns("c2"), romeo.candidates, dstaddr);
    ASSERT_TRUE(report.winner) << describe(report);
    const s5b::Attempt& won = report.attempts[*report.winner];
    EXPECT_EQ(won.candidate.s5b()->type, S5bType::Proxy) << describe(report);
    ASSERT_EQ(*report.winner, 2u) << describe(report);
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::Abandoned) << describe(report);
    EXPECT_EQ(report.attempts[1].result, s5b::AttemptResult::Abandoned) << describe(report);
    // Two stagger steps and a LAN round trip or two; TCP's first SYN retry alone is 1 s.
    EXPECT_GE(report.elapsed, 2 * kStagger);
    EXPECT_LT(report.elapsed, 2 * kStagger + 500ms) << describe(report);
    EXPECT_FALSE(romeo.accepted);

    // romeo connects to the proxy too and activates it (XEP-0260 §2.5); bytes flow.
    const auto initiator = connect_from(loop, ns("c1"), {*proxy}, dstaddr);
    ASSERT_TRUE(initiator.winner) << describe(initiator);
    std::optional<Result<void>> activated;
    romeo.proxies->activate(proxy->s5b()->jid, sid, target,
                            [&](const Result<void>& r) { activated = r; });
    ASSERT_TRUE(loop.run_until([&] { return activated.has_value(); }, 10s));
    ASSERT_TRUE(*activated) << activated->error().message;
    EXPECT_TRUE(carry(report.socket.fd(), initiator.socket.fd(), "ready").intact);
    const std::string file(1 << 20, 'y');
    const Carried carried = carry(initiator.socket.fd(), report.socket.fd(), file, true);
    EXPECT_EQ(carried.bytes, file.size());
    EXPECT_TRUE(carried.intact);
}

TEST_P(S5bAcrossNats, AForwardedPortMakesTheAssistedCandidateWin) {
    test::TestLoop loop;
    Side romeo(loop, ns("c1"), server(), "romeo");
    ASSERT_TRUE(romeo.connected);
    ASSERT_NE(romeo.of_type(S5bType::Assisted), nullptr);
    // The port forward a user would configure on nat1: WAN port -> romeo's listener.
    const test::ForwardedPort forwarded(ns("nat1"), "192.0.2.10", romeo.port);
    ASSERT_TRUE(forwarded.ok());

    const std::string dstaddr = xep0260::dstaddr("fwd-sid", romeo.jid, "juliet@example.org/x");
    ASSERT_TRUE(romeo.acceptor->expect(dstaddr));
    const auto report = connect_from(loop, ns("c2"), romeo.candidates, dstaddr);
    ASSERT_TRUE(report.winner) << describe(report);
    EXPECT_EQ(report.attempts[*report.winner].candidate.s5b()->type, S5bType::Assisted)
        << describe(report);
    EXPECT_GE(report.elapsed, kStagger); // the direct candidate ahead is a black hole
    EXPECT_LT(report.elapsed, 2 * kStagger) << describe(report);
    ASSERT_TRUE(loop.run_until([&] { return romeo.accepted.has_value(); }, 5s));
    EXPECT_TRUE(carry(report.socket.fd(), romeo.accepted->socket.fd(), "hello").intact);
}

INSTANTIATE_TEST_SUITE_P(Servers, S5bAcrossNats,
                         ::testing::Values(XmppServer::Kind::Prosody, XmppServer::Kind::Ejabberd),
                         [](const auto& info) { return test::to_string(info.param); });
