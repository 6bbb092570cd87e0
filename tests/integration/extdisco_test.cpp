// XEP-0215 against the real servers: prosody 0.12 (mod_external_services) and ejabberd 23.01
// (mod_stun_disco), each announcing STUN, TURN over UDP and TCP with TURN-REST credentials,
// TURNS, and targets a server may not send a client to. The addresses announced are only
// read here (the nat suite's lab reaches them).
#include <algorithm>
#include <functional>

#include <gtest/gtest.h>

#include <jgather/gatherer.hpp>
#include <jgather/gloox.hpp>
#include <jgather/sources/extdisco.hpp>

#include "support/glib_loop.hpp"
#include "support/local_address.hpp"
#include "support/xmpp_client.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

// Requests and iterates until the answer arrives.
ExternalServices ask(test::TestLoop& loop, ExtdiscoService& service) {
    std::optional<ExternalServices> answer;
    service.request([&](const ExternalServices& s) { answer = s; });
    EXPECT_TRUE(loop.run_until([&] { return answer.has_value(); }, 10s));
    return answer.value_or(ExternalServices{});
}

const ExternalService* find(const ExternalServices& s, ServiceType type, const char* host,
                            const char* transport) {
    for (const ExternalService& e : s.services) {
        if (e.type == type && e.host == host && e.transport == transport) {
            return &e;
        }
    }
    return nullptr;
}

class Extdisco : public ::testing::TestWithParam<XmppServer::Kind> {};

// Host candidates of a fixed loopback address only: the gathering sends nothing anywhere.
GatherOptions loopback_only() {
    GatherOptions o;
    o.host.include_loopback = true;
    o.host.addresses = std::vector<LocalAddress>{test::local_address("127.0.0.1", "lo", 1)};
    o.deadline = 10000ms;
    return o;
}

// A loopback gathering with nothing but @p service's STUN source. From that source's report it
// keeps the error, destroys the gatherer and runs @p also: both are allowed from a callback.
struct StunSourceRun {
    StunSourceRun(test::TestLoop& loop, ExtdiscoService& service,
                  std::function<void()> also = nullptr)
        : gatherer(std::make_unique<Gatherer>(loop.loop(), loopback_only())) {
        gatherer->add_source(service.stun_source());
        gatherer->on_source_done = [this, also](const SourceReport& report) {
            if (report.name == "stun") {
                error = report.error;
                gatherer.reset();
                if (also) {
                    also();
                }
            }
        };
    }
    std::unique_ptr<Gatherer> gatherer;
    std::string error;
};

} // namespace

TEST_P(Extdisco, EveryServiceIsReadWithCredentialsAndTheAnswerIsCached) {
    test::XmppServerOptions options;
    options.extdisco_secret = "jgather-turn-secret";
    XmppServer server(GetParam(), options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    ExtdiscoService service(connection);
    EXPECT_FALSE(service.cached());

    const ExternalServices found = ask(loop, service);
    ASSERT_TRUE(found.error.empty()) << found.error;
    EXPECT_EQ(found.ns, "urn:xmpp:extdisco:2");
    EXPECT_EQ(found.server, "example.org");
    EXPECT_GE(found.round_trips, 1U);

    const ExternalService* stun = find(found, ServiceType::Stun, "203.0.113.1", "udp");
    ASSERT_NE(stun, nullptr);
    EXPECT_TRUE(stun->usable()) << stun->problem;
    EXPECT_EQ(stun->port, 3478);
    for (const char* transport : {"udp", "tcp"}) {
        const ExternalService* turn = find(found, ServiceType::Turn, "203.0.113.1", transport);
        ASSERT_NE(turn, nullptr) << transport;
        EXPECT_TRUE(turn->usable()) << turn->problem;
        EXPECT_TRUE(turn->restricted);
        EXPECT_FALSE(turn->username.empty());
        EXPECT_FALSE(turn->password.empty());
        ASSERT_TRUE(turn->expires) << "TURN-REST credentials expire";
        EXPECT_GT(*turn->expires, std::chrono::system_clock::now() + 3000s);
    }
    const ExternalService* turns = find(found, ServiceType::Turns, "203.0.113.1", "tcp");
    ASSERT_NE(turns, nullptr);
    EXPECT_NE(turns->problem.find("unsupported"), std::string::npos) << turns->problem;
    const ExternalService* loopback = find(found, ServiceType::Stun, "127.0.0.1", "udp");
    ASSERT_NE(loopback, nullptr);
    EXPECT_NE(loopback->problem.find("loopback"), std::string::npos) << loopback->problem;
    if (GetParam() == XmppServer::Kind::Prosody) {
        // A host name is resolved on the loop; "localhost" resolves to loopback only: refused.
        const ExternalService* named = find(found, ServiceType::Stun, "localhost", "udp");
        ASSERT_NE(named, nullptr);
        EXPECT_NE(named->problem.find("resolved to no usable address"), std::string::npos)
            << named->problem;
    }
    ASSERT_EQ(found.stun_servers().size(), 1U);
    EXPECT_EQ(found.stun_servers()[0].to_string(), "203.0.113.1:3478");
    const auto relays = found.turn_servers();
    ASSERT_EQ(relays.size(), 2U);

    // A second gathering (and a concurrent pair) reuse the answer: no query goes out.
    const unsigned sent = service.queries_sent();
    ASSERT_TRUE(service.cached());
    const ExternalServices again = ask(loop, service);
    EXPECT_EQ(again.round_trips, 0U);
    EXPECT_EQ(again.turn_servers(), relays);
    EXPECT_EQ(service.queries_sent(), sent);
}

TEST(ExtdiscoProsody, StaticCredentialsAreHandedOutAsConfiguredAndNeverExpire) {
    // prosody's mod_external_services also takes a fixed user name and password per service
    // (a TURN server with long-term users); they come inline, restricted, without `expires`.
    test::XmppServerOptions options;
    options.extdisco_secret = "jgather-turn-secret";
    options.extdisco_static_turn = {{"static-user", "static-password"}};
    XmppServer server(XmppServer::Kind::Prosody, options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    ExtdiscoService service(connection);
    const ExternalServices found = ask(loop, service);
    ASSERT_TRUE(found.error.empty()) << found.error;
    const ExternalService* turn = find(found, ServiceType::Turn, "203.0.113.5", "udp");
    ASSERT_NE(turn, nullptr);
    EXPECT_TRUE(turn->usable()) << turn->problem;
    EXPECT_TRUE(turn->restricted);
    EXPECT_EQ(turn->username, "static-user");
    EXPECT_EQ(turn->password, "static-password");
    EXPECT_FALSE(turn->expires);
    // Beside the TURN-REST ones: three TURN servers over UDP/TCP, this one with its own user.
    const auto relays = found.turn_servers();
    ASSERT_EQ(relays.size(), 3U);
    const auto fixed = std::find_if(relays.begin(), relays.end(), [](const TurnServer& t) {
        return t.address.to_string() == "203.0.113.5:3478";
    });
    ASSERT_NE(fixed, relays.end());
    EXPECT_EQ(fixed->username, "static-user");
    EXPECT_EQ(fixed->password, "static-password");
    EXPECT_EQ(fixed->transport, RelayTransport::Udp);
}

TEST_P(Extdisco, CredentialsNearExpiryAreAskedAgain) {
    test::XmppServerOptions options;
    options.extdisco_secret = "jgather-turn-secret";
    options.extdisco_ttl = 3s;
    XmppServer server(GetParam(), options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    ExtdiscoOptions discovery;
    discovery.refresh_before = 1s; // fresh for about 2 s of the 3
    ExtdiscoService service(connection, discovery);
    const ExternalServices first = ask(loop, service);
    ASSERT_TRUE(first.error.empty()) << first.error;
    ASSERT_EQ(first.turn_servers().size(), 2U);
    const unsigned sent = service.queries_sent();
    EXPECT_EQ(ask(loop, service).round_trips, 0U); // still fresh
    EXPECT_EQ(service.queries_sent(), sent);
    // Wait (on the loop) until the cache has gone stale, then ask: a new query.
    EXPECT_TRUE(loop.run_until([&] { return !service.cached().has_value(); }, 5s));
    const ExternalServices second = ask(loop, service);
    ASSERT_TRUE(second.error.empty()) << second.error;
    EXPECT_GE(second.round_trips, 1U);
    EXPECT_GT(service.queries_sent(), sent);
    EXPECT_EQ(second.turn_servers().size(), 2U);
}

TEST_P(Extdisco, WithoutTheModuleTheDiscoveryFailsWithTheServersError) {
    XmppServer server(GetParam()); // no mod_external_services / mod_stun_disco
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));
    ExtdiscoService service(connection);
    const ExternalServices found = ask(loop, service);
    EXPECT_FALSE(found.error.empty());
    EXPECT_NE(found.error.find("answered <services"), std::string::npos) << found.error;
    EXPECT_TRUE(found.services.empty());
    // Both namespaces were tried: :2, then :1.
    EXPECT_EQ(service.queries_sent(), 2U);
    EXPECT_EQ(found.ns, "urn:xmpp:extdisco:1");

    // Its STUN source fails with the server's error (from the cached answer); the gatherer and
    // the service are destroyed from that report.
    auto owned = std::make_unique<ExtdiscoService>(connection);
    StunSourceRun run(loop, *owned, [&] { owned.reset(); });
    ASSERT_TRUE(run.gatherer->gather());
    EXPECT_TRUE(loop.run_until([&] { return run.gatherer == nullptr; }, 10s));
    EXPECT_EQ(owned, nullptr);
    EXPECT_NE(run.error.find("no STUN server: "), std::string::npos) << run.error;
    EXPECT_NE(run.error.find("answered <services"), std::string::npos) << run.error;
}

TEST_P(Extdisco, TheServiceMayBeDestroyedFromItsCallbacksAndUnderItsSource) {
    test::XmppServerOptions options;
    options.extdisco_secret = "jgather-turn-secret";
    XmppServer server(GetParam(), options);
    test::TestLoop loop;
    xmpp::XmppConnection connection(loop.context(), test::account_on(server));
    ASSERT_TRUE(test::connect_and_wait(loop, connection));

    // From the callback of a request answered by the server, another request pending: that one
    // is cancelled with the service, never called.
    auto service = std::make_unique<ExtdiscoService>(connection);
    bool first = false;
    bool second = false;
    service->request([&](const ExternalServices& s) {
        first = true;
        EXPECT_TRUE(s.error.empty()) << s.error;
        service.reset();
    });
    service->request([&](const ExternalServices&) { second = true; });
    EXPECT_TRUE(loop.run_until([&] { return first; }, 10s));
    loop.run_until([] { return false; }, 300ms);
    EXPECT_FALSE(second);

    // From the callback of a cached answer.
    service = std::make_unique<ExtdiscoService>(connection);
    ask(loop, *service);
    bool cached = false;
    service->request([&](const ExternalServices& s) {
        cached = true;
        EXPECT_EQ(s.round_trips, 0U);
        service.reset();
    });
    EXPECT_TRUE(loop.run_until([&] { return cached; }, 2s));

    // Under its own STUN source: destroyed before the source started, and with the source's
    // query in flight. Either way the source ends at once with why, not at the deadline, and the
    // gatherer may be destroyed from that report. (The announced servers are never asked: the
    // service is gone before its answer is read.)
    for (const bool in_flight : {false, true}) {
        SCOPED_TRACE(in_flight ? "query in flight" : "before the source started");
        service = std::make_unique<ExtdiscoService>(connection);
        StunSourceRun run(loop, *service);
        const auto started = std::chrono::steady_clock::now();
        ASSERT_TRUE(run.gatherer->gather());
        if (in_flight) {
            ASSERT_TRUE(loop.run_until([&] { return service->queries_sent() > 0; }, 2s));
        }
        service.reset();
        EXPECT_TRUE(loop.run_until([&] { return run.gatherer == nullptr; }, 5s));
        EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "not held until the deadline";
        EXPECT_EQ(run.error, "the external service discovery was destroyed before it answered");
        loop.run_until([] { return false; }, 300ms); // an answer arriving now finds nobody
    }
}

TEST(ExtdiscoOffline, NotConnectedIsAnErrorFromTheLoop) {
    test::TestLoop loop;
    xmpp::ConnectOptions nowhere;
    nowhere.jid = "romeo@example.org";
    nowhere.password = "x";
    xmpp::XmppConnection connection(loop.context(), nowhere);
    ExtdiscoService service(connection);
    bool called = false;
    std::string error;
    service.request([&](const ExternalServices& s) {
        called = true;
        error = s.error;
    });
    EXPECT_FALSE(called); // never inside request()
    EXPECT_TRUE(loop.run_until([&] { return called; }, 2s));
    EXPECT_EQ(error, "not connected to the XMPP server");
}

INSTANTIATE_TEST_SUITE_P(Servers, Extdisco,
                         ::testing::Values(XmppServer::Kind::Prosody, XmppServer::Kind::Ejabberd),
                         [](const auto& info) { return test::to_string(info.param); });
