// Server IP Check against a scripted peer, for what real servers cannot be made to do: spoofed
// 'from', malformed addresses, replies after the deadline, duplicates.
#include <gtest/gtest.h>

#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/sources/sic.hpp>

#include "support/fake_xmpp.hpp"
#include "support/glib_loop.hpp"
#include "support/xmpp_client.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::FakeReply;
using test::FakeXmppServer;

namespace {

GatherOptions lab_options(std::chrono::milliseconds deadline = 3000ms) {
    GatherOptions o;
    o.host.include_loopback = true;
    LocalAddress a;
    a.ip = *IpAddress::parse("127.0.0.2");
    a.interface = "eth0";
    a.interface_index = 2;
    o.host.addresses = std::vector<LocalAddress>{a};
    o.deadline = deadline;
    o.s5b = false;
    return o;
}

std::string address_reply(const std::string& from_attribute, const std::string& payload) {
    return "<iq type='result' id='{id}'" + from_attribute + "><address xmlns='urn:xmpp:sic:1'>" +
           payload + "</address></iq>";
}

struct PeerRun {
    GatherResult result;
    std::vector<std::string> queries;
    unsigned sent = 0;
};

// Connects to a fake peer with @p script and runs @p gatherings gatherings with SIC (sic:1).
std::vector<PeerRun> run_against(std::function<std::vector<FakeReply>(const std::string&)> script,
                                 std::chrono::milliseconds deadline = 3000ms, int gatherings = 1,
                                 std::chrono::milliseconds settle = 50ms) {
    FakeXmppServer fake(std::move(script));
    test::TestLoop t;
    xmpp::ConnectOptions o;
    o.jid = "romeo@example.org";
    o.password = "secret";
    o.host = "127.0.0.1";
    o.port = fake.port();
    o.require_tls = false; // the scripted peer speaks no TLS
    xmpp::XmppConnection connection(t.context(), o);
    EXPECT_TRUE(test::connect_and_wait(t, connection));

    SicService sic(connection, SicMode::Sic1);
    std::vector<PeerRun> runs;
    for (int i = 0; i < gatherings; ++i) {
        Gatherer g(t.loop(), lab_options(deadline));
        g.add_source(sic.source());
        EXPECT_TRUE(g.gather());
        EXPECT_TRUE(t.run_until([&] { return g.complete(); }, 10s));
        // Let late replies arrive before the next gathering.
        t.run_until([] { return false; }, settle);
        runs.push_back({g.result(), fake.queries(), sic.queries_sent()});
    }
    if (gatherings > 0) {
        t.run_until([] { return false; }, 1000ms); // anything still in flight lands now
        runs.back().sent = sic.queries_sent();
    }
    return runs;
}

const SourceReport& sic_report(const GatherResult& r) {
    static const SourceReport none{"(none)", SourceState::Failed, "no sic report", {}, {}};
    for (const auto& s : r.sources) {
        if (s.name == "sic") {
            return s;
        }
    }
    return none;
}

} // namespace

TEST(SicFakePeer, QueryCarriesNoToAndAcceptsOwnAccountServerOrNoFrom) {
    for (const std::string from : {"", " from='romeo@example.org'", " from='example.org'",
                                   " from='romeo@example.org/fake'"}) {
        auto runs = run_against([&](const std::string&) {
            return std::vector<FakeReply>{
                {address_reply(from, "<port>4711</port><ip>203.0.113.7</ip>")}};
        });
        const PeerRun& r = runs.at(0);
        EXPECT_EQ(sic_report(r.result).state, SourceState::Ok)
            << from << ": " << sic_report(r.result).error;
        ASSERT_EQ(r.result.external_addresses.size(), 1U) << from;
        EXPECT_EQ(r.result.external_addresses[0].ip.to_string(), "203.0.113.7");
        EXPECT_EQ(r.result.external_addresses[0].observed_port, 4711) << "children in any order";
        ASSERT_EQ(r.queries.size(), 1U);
        EXPECT_EQ(r.queries[0].find(" to="), std::string::npos)
            << "never addressed: " << r.queries[0];
        EXPECT_NE(r.queries[0].find("urn:xmpp:sic:1"), std::string::npos);
    }
}

TEST(SicFakePeer, SpoofedFromIsRejected) {
    auto runs = run_against([](const std::string&) {
        return std::vector<FakeReply>{
            {address_reply(" from='mallory@example.org/x'", "<ip>203.0.113.66</ip>")}};
    });
    const GatherResult& r = runs.at(0).result;
    EXPECT_EQ(sic_report(r).state, SourceState::Failed);
    EXPECT_NE(sic_report(r).error.find("from 'mallory@example.org/x' rejected"), std::string::npos)
        << sic_report(r).error;
    EXPECT_TRUE(r.external_addresses.empty());
    EXPECT_EQ(r.ice.size(), 1U) << "host candidates regardless";
}

TEST(SicFakePeer, MalformedAnswersAreRejectedWithTheReason) {
    struct Case {
        std::string payload;
        std::string error;
    };
    for (const Case& c :
         {Case{"<ip>not-an-ip</ip>", "'not-an-ip' is not a literal IPv4 or IPv6 address"},
          Case{"<ip>host.example.org</ip>", "is not a literal"},
          Case{"<ip>203.0.113.7</ip><port>99999</port>", "<port> '99999' is not 1-65535"},
          Case{"<ip>203.0.113.7</ip><ip>203.0.113.8</ip>", "<ip> appears twice"},
          Case{"<port>5</port>", "has no <ip>"},
          // Literal IPs that cannot be anybody's external address (issue 8): the gatherer
          // refuses the finding and fails the source with the reason.
          Case{"<ip>0.0.0.0</ip>",
               "external address 0.0.0.0 is the unspecified address, which cannot be anybody's "
               "external address"},
          Case{"<ip>255.255.255.255</ip>", "is the broadcast address"},
          Case{"<ip>224.0.0.1</ip>", "is a multicast address"},
          Case{"<ip>127.0.0.9</ip>", "is a loopback address"},
          Case{"<ip>fe80::1</ip>", "is a link-local address"}}) {
        auto runs = run_against([&](const std::string&) {
            return std::vector<FakeReply>{{address_reply("", c.payload)}};
        });
        const GatherResult& r = runs.at(0).result;
        EXPECT_EQ(sic_report(r).state, SourceState::Failed) << c.payload;
        EXPECT_NE(sic_report(r).error.find(c.error), std::string::npos)
            << c.payload << " -> " << sic_report(r).error;
        EXPECT_TRUE(r.external_addresses.empty());
    }
    // IPv4-mapped IPv6 is normalised, surrounding blanks are tolerated.
    auto runs = run_against([](const std::string&) {
        return std::vector<FakeReply>{{address_reply("", "<ip> ::ffff:203.0.113.9\n</ip>")}};
    });
    ASSERT_EQ(runs.at(0).result.external_addresses.size(), 1U)
        << sic_report(runs.at(0).result).error;
    EXPECT_EQ(runs.at(0).result.external_addresses[0].ip.to_string(), "203.0.113.9");
}

TEST(SicFakePeer, ErrorRepliesNameTheConditionAndText) {
    auto runs = run_against([](const std::string&) {
        return std::vector<FakeReply>{
            {"<iq type='error' id='{id}'><error type='cancel'><service-unavailable "
             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>not here</text></error></iq>"}};
    });
    EXPECT_EQ(sic_report(runs.at(0).result).error,
              "server answered <address xmlns='urn:xmpp:sic:1'/> with service-unavailable (\"not "
              "here\")");
}

TEST(SicFakePeer, AReplyAfterTheDeadlineEndsNothingButIsCachedForTheNextGathering) {
    const auto start = std::chrono::steady_clock::now();
    auto runs = run_against(
        [](const std::string&) {
            return std::vector<FakeReply>{{address_reply("", "<ip>203.0.113.7</ip>"), 600}};
        },
        200ms, 2, 800ms);
    const GatherResult& first = runs.at(0).result;
    EXPECT_EQ(sic_report(first).state, SourceState::TimedOut);
    EXPECT_LT(first.elapsed, 500ms);
    EXPECT_EQ(first.ice.size(), 1U);
    // The answer came in after the deadline; the next gathering reuses it without a new query.
    const GatherResult& second = runs.at(1).result;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_EQ(sic_report(second).state, SourceState::Ok) << sic_report(second).error;
    ASSERT_EQ(second.external_addresses.size(), 1U);
    EXPECT_EQ(second.external_addresses[0].ip.to_string(), "203.0.113.7");
    EXPECT_LT(second.elapsed, 50ms) << "answered from the cache";
    EXPECT_EQ(runs.back().sent, 1U) << "one query per connection";
}

TEST(SicFakePeer, DuplicateRepliesAreHarmless) {
    auto runs = run_against([](const std::string&) {
        const std::string reply = address_reply("", "<ip>203.0.113.7</ip>");
        return std::vector<FakeReply>{
            {reply}, {reply}, {address_reply("", "<ip>203.0.113.8</ip>")}};
    });
    const GatherResult& r = runs.at(0).result;
    EXPECT_EQ(sic_report(r).state, SourceState::Ok);
    ASSERT_EQ(r.external_addresses.size(), 1U);
    EXPECT_EQ(r.external_addresses[0].ip.to_string(), "203.0.113.7") << "the first answer counts";
}
