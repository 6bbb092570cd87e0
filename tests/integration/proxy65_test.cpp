// XEP-0065 proxies of the real servers: prosody 0.12's mod_proxy65 and ejabberd 23.01's, on
// loopback. Discovery (disco#items, disco#info, bytestreams query), the `proxy` candidates a
// gathering makes of them, and a whole proxied stream: two SOCKS5 connections (target first,
// then initiator) opened by s5b::Connector, activated, carrying bytes both ways.
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <jgather/gatherer.hpp>
#include <jgather/gloox.hpp>
#include <jgather/s5b.hpp>
#include <jgather/sources/proxy65.hpp>
#include <jgather/xep0260.hpp>

#include "support/glib_loop.hpp"
#include "support/local_address.hpp"
#include "support/xmpp_client.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

Proxy65Discovery ask(test::TestLoop& loop, Proxy65Service& service) {
    std::optional<Proxy65Discovery> answer;
    service.request([&](const Proxy65Discovery& d) { answer = d; });
    EXPECT_TRUE(loop.run_until([&] { return answer.has_value(); }, 10s));
    return answer.value_or(Proxy65Discovery{});
}

test::XmppServerOptions with_proxy(std::string address = "127.0.0.1") {
    test::XmppServerOptions options;
    options.proxy65_port = test::free_tcp_port();
    options.proxy65_address = std::move(address);
    return options;
}

std::string all(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& line : lines) {
        out += line + "\n";
    }
    return out;
}

Candidate proxy_candidate(const Proxy65& proxy) {
    Candidate c;
    S5bFields fields;
    fields.cid = "proxy";
    fields.jid = proxy.jid;
    fields.type = S5bType::Proxy;
    c.fields = fields;
    c.host = proxy.addresses.at(0).to_string();
    c.port = proxy.port;
    c.priority = 1;
    return c;
}

s5b::ConnectReport connect_to(test::TestLoop& loop, const Proxy65& proxy,
                              const std::string& dstaddr) {
    s5b::ConnectOptions options;
    options.dstaddr = dstaddr;
    std::optional<s5b::ConnectReport> report;
    s5b::Connector connector(loop.loop(), {proxy_candidate(proxy)}, options);
    connector.on_done = [&](s5b::ConnectReport r) {
        report = std::move(r);
    };
    EXPECT_TRUE(connector.start());
    EXPECT_TRUE(loop.run_until([&] { return report.has_value(); }, 10s));
    return report ? std::move(*report) : s5b::ConnectReport{};
}

// The proxy is another process: wait on the socket itself, not on the loop.
std::string read_exactly(int fd, std::size_t size) {
    std::string out;
    pollfd ready{fd, POLLIN, 0};
    while (out.size() < size && poll(&ready, 1, 5000) == 1) {
        char buffer[256];
        const ssize_t got = recv(fd, buffer, std::min(sizeof buffer, size - out.size()), 0);
        if (got <= 0) {
            break;
        }
        out.append(buffer, static_cast<std::size_t>(got));
    }
    return out;
}

// SOCKS5 candidates only, from loopback: the direct one and what the sources add.
GatherOptions s5b_on_loopback(xmpp::XmppConnection& connection) {
    GatherOptions gather;
    gather.ice = false;
    gather.s5b = true;
    gather.jid = connection.client().jid().full();
    gather.host.include_loopback = true;
    gather.host.addresses = std::vector<LocalAddress>{test::local_address("127.0.0.1", "lo", 1)};
    return gather;
}

class Proxy65Test : public ::testing::TestWithParam<XmppServer::Kind> {};

} // namespace

TEST_P(Proxy65Test, TheProxyIsFoundWithItsStreamhostAndCached) {
    const auto options = with_proxy();
    XmppServer server(GetParam(), options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Service service(connection);
    EXPECT_FALSE(service.cached());

    const Proxy65Discovery found = ask(loop, service);
    ASSERT_TRUE(found.error.empty()) << found.error;
    EXPECT_EQ(found.server, "example.org");
    ASSERT_EQ(found.proxies.size(), 1u) << all(found.problems);
    const Proxy65& proxy = found.proxies[0];
    // ejabberd's streamhost JID carries a resource; prosody's is the component's.
    EXPECT_EQ(proxy.jid.rfind("proxy.example.org", 0), 0u) << proxy.jid;
    EXPECT_EQ(proxy.host, "127.0.0.1");
    EXPECT_EQ(proxy.port, options.proxy65_port);
    ASSERT_EQ(proxy.addresses.size(), 1u);
    // Every other item (none is a proxy here) was asked and passed over without a problem.
    EXPECT_TRUE(found.problems.empty()) << all(found.problems);
    ASSERT_TRUE(service.cached());
    EXPECT_EQ(service.cached()->proxies.size(), 1u);
}

TEST_P(Proxy65Test, AGatheringMakesAProxyCandidateOfIt) {
    const auto options = with_proxy();
    XmppServer server(GetParam(), options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Service service(connection);

    Gatherer gatherer(loop.loop(), s5b_on_loopback(connection));
    gatherer.add_source(service.source());
    bool complete = false;
    gatherer.on_complete = [&](const GatherResult&) {
        complete = true;
    };
    ASSERT_TRUE(gatherer.gather());
    ASSERT_TRUE(loop.run_until([&] { return complete; }, 10s));
    const GatherResult& result = gatherer.result();
    const auto proxy = std::find_if(result.s5b.begin(), result.s5b.end(), [](const Candidate& c) {
        return c.s5b()->type == S5bType::Proxy;
    });
    ASSERT_NE(proxy, result.s5b.end());
    EXPECT_EQ(proxy->host, "127.0.0.1");
    EXPECT_EQ(proxy->port, options.proxy65_port);
    EXPECT_EQ(proxy->s5b()->jid.rfind("proxy.example.org", 0), 0u);
    EXPECT_EQ(proxy->origin.source, "proxy65");
    // XEP-0260 §2.2: the proxy ranks below the direct candidate (type preference 10 < 126).
    EXPECT_EQ(result.s5b.front().s5b()->type, S5bType::Direct);
    EXPECT_LT(proxy->priority, result.s5b.front().priority);
}

TEST_P(Proxy65Test, AProxiedStreamIsActivatedAndCarriesBytesBothWays) {
    XmppServer server(GetParam(), with_proxy());
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Service service(connection);
    const Proxy65Discovery found = ask(loop, service);
    ASSERT_EQ(found.proxies.size(), 1u) << found.error << all(found.problems);
    const Proxy65& proxy = found.proxies[0];

    // XEP-0065 §6.3: the target connects first, then the initiator (us), same DST.ADDR.
    const std::string sid = "s5b-proxy-test";
    const std::string initiator = connection.client().jid().full();
    const std::string target = "juliet@example.org/phone";
    const std::string dstaddr = xep0260::dstaddr(sid, initiator, target);
    const s5b::ConnectReport target_side = connect_to(loop, proxy, dstaddr);
    ASSERT_TRUE(target_side.winner) << target_side.error;
    const s5b::ConnectReport initiator_side = connect_to(loop, proxy, dstaddr);
    ASSERT_TRUE(initiator_side.winner) << initiator_side.error;

    std::optional<Result<void>> activated;
    service.activate(proxy.jid, sid, target, [&](const Result<void>& r) { activated = r; });
    ASSERT_TRUE(loop.run_until([&] { return activated.has_value(); }, 10s));
    ASSERT_TRUE(*activated) << activated->error().message;

    ASSERT_EQ(send(initiator_side.socket.fd(), "file bytes", 10, MSG_NOSIGNAL), 10);
    EXPECT_EQ(read_exactly(target_side.socket.fd(), 10), "file bytes");
    ASSERT_EQ(send(target_side.socket.fd(), "ack", 3, MSG_NOSIGNAL), 3);
    EXPECT_EQ(read_exactly(initiator_side.socket.fd(), 3), "ack");
}

TEST_P(Proxy65Test, AnActivationThatTheProxyRefusesIsAnErrorThatSaysSo) {
    XmppServer server(GetParam(), with_proxy());
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Service service(connection);
    const Proxy65Discovery found = ask(loop, service);
    ASSERT_EQ(found.proxies.size(), 1u) << found.error << all(found.problems);

    // Nobody connected with this session: the proxy refuses.
    std::optional<Result<void>> activated;
    service.activate(found.proxies[0].jid, "no-such-session", "juliet@example.org/phone",
                     [&](const Result<void>& r) { activated = r; });
    ASSERT_TRUE(loop.run_until([&] { return activated.has_value(); }, 10s));
    ASSERT_FALSE(*activated);
    EXPECT_NE(activated->error().message.find("the proxy refused the activation"),
              std::string::npos)
        << activated->error().message;
}

TEST_P(Proxy65Test, ChosenProxiesAreAskedDirectlyAndAnUnknownOneIsAProblem) {
    const auto options = with_proxy();
    XmppServer server(GetParam(), options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Options chosen;
    chosen.proxies = {"proxy.example.org", "nothing.example.org"};
    Proxy65Service service(connection, chosen);
    const Proxy65Discovery found = ask(loop, service);
    ASSERT_TRUE(found.error.empty()) << found.error;
    ASSERT_EQ(found.proxies.size(), 1u) << all(found.problems);
    EXPECT_EQ(found.proxies[0].jid.rfind("proxy.example.org", 0), 0u) << found.proxies[0].jid;
    EXPECT_EQ(found.proxies[0].port, options.proxy65_port);
    // The server cannot route to a domain it does not serve: an error, kept for that JID.
    ASSERT_EQ(found.problems.size(), 1u) << all(found.problems);
    EXPECT_EQ(found.problems[0].rfind("nothing.example.org: bytestreams query refused", 0), 0u)
        << found.problems[0];
}

INSTANTIATE_TEST_SUITE_P(Servers, Proxy65Test,
                         ::testing::Values(XmppServer::Kind::Prosody, XmppServer::Kind::Ejabberd),
                         [](const auto& info) { return test::to_string(info.param); });

TEST(Proxy65Prosody, AProxyThatAnnouncesAnUnresolvableHostNameIsAProblemNotACandidate) {
    // prosody without proxy65_address announces the component's host name.
    XmppServer server(XmppServer::Kind::Prosody, with_proxy(""));
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Service service(connection);
    const Proxy65Discovery found = ask(loop, service);
    ASSERT_TRUE(found.error.empty()) << found.error;
    EXPECT_TRUE(found.proxies.empty());
    EXPECT_NE(all(found.problems).find("host name 'proxy.example.org' did not resolve"),
              std::string::npos)
        << all(found.problems);
}

TEST(Proxy65Prosody, WithoutAProxyTheSourceSaysSo) {
    XmppServer server(XmppServer::Kind::Prosody);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    Proxy65Service service(connection);
    Gatherer gatherer(loop.loop(), s5b_on_loopback(connection));
    gatherer.add_source(service.source());
    std::optional<SourceReport> report;
    gatherer.on_source_done = [&](const SourceReport& r) {
        if (r.name == "proxy65") {
            report = r;
        }
    };
    ASSERT_TRUE(gatherer.gather());
    ASSERT_TRUE(loop.run_until([&] { return report.has_value(); }, 10s));
    EXPECT_EQ(report->state, SourceState::Ok);
    EXPECT_NE(report->detail.find("example.org offers no usable proxy"), std::string::npos)
        << report->detail;
}
