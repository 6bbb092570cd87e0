// The gatherer's event queue: what the README promises about callbacks, for every kind of
// finding. From on_candidate the application destroys the gatherer, or cancels it, while the
// candidate came from the host source, the configured external address, a STUN answer (a
// scripted server on loopback) or Server IP Check (a scripted XMPP peer on loopback); each
// callback throws; the host filter throws. Run under ASan+UBSan in CI: a use after free fails.
#include <algorithm>
#include <stdexcept>

#include <gtest/gtest.h>

#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/sources/sic.hpp>
#include <jgather/sources/stun.hpp>

#include "support/fake_stun.hpp"
#include "support/fake_xmpp.hpp"
#include "support/glib_loop.hpp"
#include "support/local_address.hpp"
#include "support/xmpp_client.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::FakeStunRequest;
using test::FakeStunSend;
using test::FakeStunServer;
using test::StunWire;

namespace {

GatherOptions loopback_options() {
    GatherOptions o;
    o.host.include_loopback = true;
    const LocalAddress a = test::local_address("127.0.0.1", "eth0", 2);
    o.host.addresses = std::vector<LocalAddress>{a};
    o.s5b = true;
    o.jid = "romeo@example.org/orchard";
    o.deadline = 3000ms;
    return o;
}

enum class Finding { Host, Configured, Stun, Sic };

const char* name_of(Finding f) {
    switch (f) {
    case Finding::Host:
        return "host";
    case Finding::Configured:
        return "config";
    case Finding::Stun:
        return "stun";
    case Finding::Sic:
        return "sic";
    }
    return "?";
}

xmpp::ConnectOptions fake_account(const test::FakeXmppServer& server) {
    xmpp::ConnectOptions o;
    o.jid = "romeo@example.org";
    o.password = "secret";
    o.host = "127.0.0.1";
    o.port = server.port();
    o.require_tls = false; // the scripted peer speaks no TLS
    return o;
}

// Real sources for each kind of finding, with the scripted peers they talk to.
class Findings {
public:
    explicit Findings(test::TestLoop& t)
        : stun_("127.0.0.1",
                [](const FakeStunRequest& r) {
                    return std::vector<FakeStunSend>{{StunWire(StunWire::kBindingSuccess, r.id)
                                                          .xor_mapped("203.0.113.7", 4242)
                                                          .bytes(),
                                                      false}};
                }),
          xmpp_([](const std::string&) {
              return std::vector<test::FakeReply>{
                  {"<iq type='result' id='{id}'><address xmlns='urn:xmpp:sic:1'>"
                   "<ip>203.0.113.9</ip></address></iq>",
                   0}};
          }) {
        connection_ = std::make_unique<xmpp::XmppConnection>(t.context(), fake_account(xmpp_));
        EXPECT_TRUE(test::connect_and_wait(t, *connection_));
        sic_ = std::make_unique<SicService>(*connection_, SicMode::Sic1);
    }

    void add_all(Gatherer& g) {
        g.add_source(std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("203.0.113.5")));
        StunOptions stun;
        stun.servers.push_back(*StunSource::parse_server(stun_.address()));
        g.add_source(std::make_unique<StunSource>(stun));
        g.add_source(sic_->source());
    }

private:
    FakeStunServer stun_;
    test::FakeXmppServer xmpp_;
    std::unique_ptr<xmpp::XmppConnection> connection_;
    std::unique_ptr<SicService> sic_;
};

// A source that only ends when stopped (it would run until the deadline): something is always
// still running when the application cancels.
class Lingering final : public Source {
public:
    explicit Lingering(int* stops) : stops_(stops) {}
    std::string name() const override { return "lingering"; }
    void start(SourceSink&) override {}
    void stop() override { ++*stops_; }

private:
    int* stops_;
};

bool is(Finding f, const Candidate& c) {
    return c.origin.source == name_of(f) && c.transport() == TransportKind::IceUdp;
}

class FromOnCandidate : public ::testing::TestWithParam<Finding> {};

std::string finding_name(const ::testing::TestParamInfo<Finding>& info) {
    return name_of(info.param);
}

} // namespace

TEST_P(FromOnCandidate, DestroyingTheGathererIsSafe) {
    test::TestLoop t;
    Findings findings(t);
    auto g = std::make_unique<Gatherer>(t.loop(), loopback_options());
    findings.add_all(*g);
    bool destroyed = false;
    int after = 0;
    g->on_candidate = [&](const Candidate& c) {
        if (destroyed) {
            ++after;
        } else if (is(GetParam(), c)) {
            g.reset(); // from inside the gatherer's own callback
            destroyed = true;
        }
    };
    g->on_source_done = [&](const SourceReport&) {
        after += destroyed ? 1 : 0;
    };
    g->on_complete = [&](const GatherResult&) {
        after += destroyed ? 1 : 0;
    };
    ASSERT_TRUE(g->gather());
    ASSERT_TRUE(t.run_until([&] { return destroyed; }, 5s)) << "no " << name_of(GetParam());
    // Whatever the sources still had in flight (answers, retransmissions, the SIC reply) lands
    // now, on a destroyed gatherer: nothing may touch it, and no callback may run.
    t.run_until([] { return false; }, 600ms);
    EXPECT_EQ(after, 0);
}

TEST_P(FromOnCandidate, CancelDeliversEveryReportThenCompletesOnceAndThenNothing) {
    test::TestLoop t;
    Findings findings(t);
    Gatherer g(t.loop(), loopback_options());
    findings.add_all(g);
    int stops = 0;
    g.add_source(std::make_unique<Lingering>(&stops));
    std::vector<std::string> events;
    bool cancelled = false;
    g.on_candidate = [&](const Candidate& c) {
        events.push_back("candidate");
        if (!cancelled && is(GetParam(), c)) {
            cancelled = true;
            g.cancel();
            g.cancel(); // twice is harmless
            EXPECT_EQ(g.phase(), GatherPhase::Cancelling);
            EXPECT_FALSE(g.complete()) << "on_complete comes from the loop, after the reports";
        }
    };
    g.on_source_done = [&](const SourceReport& r) {
        events.push_back("done " + r.name);
    };
    g.on_complete = [&](const GatherResult&) {
        events.push_back("complete");
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    t.run_until([] { return false; }, 600ms); // late answers and replies: ignored
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(), "complete");
    EXPECT_EQ(std::count(events.begin(), events.end(), "complete"), 1);
    EXPECT_EQ(g.phase(), GatherPhase::Complete);
    // Every source is reported exactly once, before on_complete.
    EXPECT_EQ(stops, GetParam() == Finding::Host ? 0 : 1)
        << "stopped once if it had started (the host candidates come before any source starts)";
    for (const char* name : {"host", "config", "stun", "sic", "lingering"}) {
        EXPECT_EQ(std::count(events.begin(), events.end(), std::string("done ") + name), 1) << name;
    }
    for (const SourceReport& r : g.result().sources) {
        if (r.state == SourceState::Cancelled) {
            EXPECT_EQ(r.error, "the gathering was cancelled");
        }
    }
    // What was trickled is what the result holds (nothing delivered was dropped, or the
    // reverse).
    const auto trickled = std::count(events.begin(), events.end(), "candidate");
    EXPECT_EQ(static_cast<std::size_t>(trickled), g.result().ice.size() + g.result().s5b.size());
}

INSTANTIATE_TEST_SUITE_P(EachKindOfFinding, FromOnCandidate,
                         ::testing::Values(Finding::Host, Finding::Configured, Finding::Stun,
                                           Finding::Sic),
                         finding_name);

namespace {

// A source that reports a guess (as SIC would), then a verified srflx for the same base and IP
// (as STUN would): the verified one supersedes the guess.
class GuessThenVerify final : public Source {
public:
    std::string name() const override { return "stun"; }
    void start(SourceSink& sink) override {
        timer_ = sink.loop().call_after(1ms, [this, &sink] {
            sink.add_external_address(
                {*IpAddress::parse("203.0.113.7"), std::nullopt, std::nullopt, {"sic", "x"}});
            const Base& base = sink.bases()[0];
            sink.add_candidate(
                {IceType::Srflx, {*IpAddress::parse("203.0.113.7"), base.port}, 0, "stun.x", {}});
            sink.finish(SourceStatus::ok());
        });
    }
    void stop() override { timer_.reset(); }

private:
    std::unique_ptr<LoopHandle> timer_;
};

struct Thrown {
    GatherResult result;
    int completions = 0;
    int stops = 0;
};

// Runs a gathering whose callback @p which throws on its first call.
Thrown run_throwing(const std::string& which) {
    test::TestLoop t;
    Thrown out;
    Gatherer g(t.loop(), loopback_options());
    g.add_source(std::make_unique<GuessThenVerify>());
    g.add_source(std::make_unique<Lingering>(&out.stops));
    const auto maybe_throw = [&which](const char* here) {
        if (which == here) {
            throw std::runtime_error(std::string("boom in ") + here);
        }
    };
    g.on_candidate = [&](const Candidate& c) {
        if (c.transport() == TransportKind::IceUdp && c.ice()->type == IceType::Srflx) {
            maybe_throw("on_candidate"); // once the sources run
        }
    };
    g.on_candidate_superseded = [&](const Candidate&, const Candidate&) {
        maybe_throw("on_candidate_superseded");
    };
    g.on_source_done = [&](const SourceReport& r) {
        if (r.name == "stun") {
            maybe_throw("on_source_done");
        }
    };
    g.on_complete = [&](const GatherResult&) {
        ++out.completions;
        maybe_throw("on_complete");
    };
    EXPECT_TRUE(g.gather());
    EXPECT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    t.run_until([] { return false; }, 50ms);
    out.result = g.result();
    return out;
}

} // namespace

TEST(CallbackExceptions, EachCallbackThatThrowsEndsTheGatheringWithItsMessage) {
    for (const char* which : {"on_candidate", "on_candidate_superseded", "on_source_done"}) {
        SCOPED_TRACE(which);
        const Thrown run = run_throwing(which);
        EXPECT_EQ(run.result.error, std::string(which) + " threw: boom in " + which);
        EXPECT_EQ(run.completions, 1) << "on_complete is still delivered, once";
        EXPECT_EQ(run.stops, 1) << "the running source was stopped";
        const auto lingering =
            std::find_if(run.result.sources.begin(), run.result.sources.end(),
                         [](const SourceReport& r) { return r.name == "lingering"; });
        ASSERT_NE(lingering, run.result.sources.end());
        EXPECT_EQ(lingering->state, SourceState::Cancelled);
        EXPECT_EQ(lingering->error, "the gathering ended: " + run.result.error);
    }
}

TEST(CallbackExceptions, OnCompleteThrowingIsContained) {
    // The lingering source keeps the gathering open until its deadline: shorten it.
    test::TestLoop t;
    int stops = 0;
    GatherOptions o = loopback_options();
    o.deadline = 100ms;
    Gatherer g(t.loop(), o);
    g.add_source(std::make_unique<Lingering>(&stops));
    int completions = 0;
    g.on_complete = [&](const GatherResult&) {
        ++completions;
        throw std::runtime_error("late boom");
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    t.run_until([] { return false; }, 50ms);
    EXPECT_EQ(completions, 1);
    EXPECT_EQ(g.result().error, "on_complete threw: late boom");
}

TEST(CallbackExceptions, AThrowingFilterFailsGather) {
    test::TestLoop t;
    GatherOptions o = loopback_options();
    o.host.filter = [](const LocalAddress&) -> bool {
        throw std::runtime_error("filter boom");
    };
    Gatherer g(t.loop(), o);
    auto started = g.gather();
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().message, "HostOptions::filter threw: filter boom");
    EXPECT_EQ(g.phase(), GatherPhase::Idle);
}

namespace {

class ThrowingStart final : public Source {
public:
    std::string name() const override { return "thrower"; }
    void start(SourceSink&) override { throw std::logic_error("cannot start"); }
    void stop() override { throw std::logic_error("cannot stop either"); }
};

} // namespace

TEST(CallbackExceptions, ASourceThatThrowsFromStartFailsWithTheMessage) {
    test::TestLoop t;
    Gatherer g(t.loop(), loopback_options());
    g.add_source(std::make_unique<ThrowingStart>());
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    t.run_until([] { return false; }, 20ms); // its stop() (which throws too) runs now
    const auto& sources = g.result().sources;
    const auto thrower = std::find_if(sources.begin(), sources.end(),
                                      [](const SourceReport& r) { return r.name == "thrower"; });
    ASSERT_NE(thrower, sources.end());
    EXPECT_EQ(thrower->state, SourceState::Failed);
    EXPECT_EQ(thrower->error, "start() threw: cannot start");
}

TEST(Events, ASupersededGuessIsAnnouncedAfterItsReplacement) {
    test::TestLoop t;
    Gatherer g(t.loop(), loopback_options());
    g.add_source(std::make_unique<GuessThenVerify>());
    std::vector<std::string> events;
    g.on_candidate = [&](const Candidate& c) {
        if (c.transport() == TransportKind::IceUdp && c.ice()->type == IceType::Srflx) {
            events.push_back("srflx from " + c.origin.source);
        }
    };
    g.on_candidate_superseded = [&](const Candidate& old, const Candidate& by) {
        events.push_back("superseded " + old.origin.source + " by " + by.origin.source);
        EXPECT_EQ(old.host, by.host);
        EXPECT_EQ(old.ice()->related, by.ice()->related);
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    EXPECT_EQ(events, (std::vector<std::string>{"srflx from sic", "srflx from stun",
                                                "superseded sic by stun"}));
    const auto srflx =
        std::count_if(g.result().ice.begin(), g.result().ice.end(),
                      [](const Candidate& c) { return c.ice()->type == IceType::Srflx; });
    EXPECT_EQ(srflx, 1) << "the result keeps the verified one";
}

TEST(Events, NothingIsDeliveredFromInsideGather) {
    test::TestLoop t;
    Gatherer g(t.loop(), loopback_options());
    g.add_source(std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("203.0.113.5")));
    int calls = 0;
    g.on_candidate = [&](const Candidate&) {
        ++calls;
    };
    g.on_source_done = [&](const SourceReport&) {
        ++calls;
    };
    ASSERT_TRUE(g.gather());
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(g.phase(), GatherPhase::Running);
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    EXPECT_GT(calls, 0);
}

namespace {

std::vector<test::FakeReply> no_replies(const std::string&) {
    return {};
}

} // namespace

TEST(XmppConnectionEvents, DestroyingTheConnectionFromEitherCallbackIsSafe) {
    test::FakeXmppServer server(no_replies);
    test::TestLoop t;
    // From on_connected: gloox is not on the stack, the connection goes with its session.
    auto connection = std::make_unique<xmpp::XmppConnection>(t.context(), fake_account(server));
    bool destroyed = false;
    connection->on_connected = [&] {
        connection.reset();
        destroyed = true;
    };
    ASSERT_TRUE(connection->connect());
    ASSERT_TRUE(t.run_until([&] { return destroyed; }, 5s));
    t.run_until([] { return false; }, 100ms);

    // From on_disconnected, after a refused connection.
    int port = 0;
    {
        test::FakeXmppServer closed(no_replies);
        port = closed.port();
    }
    xmpp::ConnectOptions refused = fake_account(server);
    refused.port = port;
    connection = std::make_unique<xmpp::XmppConnection>(t.context(), refused);
    destroyed = false;
    std::string why;
    connection->on_disconnected = [&](const xmpp::Disconnect& d) {
        why = d.message;
        connection.reset();
        destroyed = true;
    };
    ASSERT_TRUE(connection->connect());
    ASSERT_TRUE(t.run_until([&] { return destroyed; }, 5s));
    EXPECT_EQ(why, "connection refused");
    t.run_until([] { return false; }, 100ms);
}

TEST(XmppConnectionEvents, AThrowingCallbackIsContainedAndTheSessionGoesOn) {
    test::FakeXmppServer server([](const std::string&) {
        return std::vector<test::FakeReply>{
            {"<iq type='result' id='{id}'><address xmlns='urn:xmpp:sic:1'>"
             "<ip>203.0.113.9</ip></address></iq>",
             0}};
    });
    test::TestLoop t;
    xmpp::XmppConnection connection(t.context(), fake_account(server));
    bool called = false;
    connection.on_connected = [&] {
        called = true;
        throw std::runtime_error("application bug");
    };
    ASSERT_TRUE(connection.connect());
    ASSERT_TRUE(t.run_until([&] { return called; }, 5s));
    EXPECT_TRUE(connection.connected()) << "the exception did not tear the session down";
    connection.on_connected = nullptr;
    // The session still works: Server IP Check over it.
    SicService sic(connection, SicMode::Sic1);
    Gatherer g(t.loop(), loopback_options());
    g.add_source(sic.source());
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    ASSERT_EQ(g.result().external_addresses.size(), 1U);
    EXPECT_EQ(g.result().external_addresses[0].ip.to_string(), "203.0.113.9");
}
