// The gatherer with scripted sources: ordering, trickle, failures, deadline, cancel, teardown,
// and the combination rules for learned external addresses.
#include <algorithm>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>

#include "support/glib_loop.hpp"
#include "support/local_address.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using jgather::test::TestLoop;

namespace {

// Loopback addresses posing as two interfaces: real sockets, deterministic layout.
GatherOptions test_options() {
    GatherOptions o;
    o.host.include_loopback = true;
    o.host.addresses = std::vector<LocalAddress>{test::local_address("127.0.0.2", "eth0", 2),
                                                 test::local_address("::1", "eth0", 2),
                                                 test::local_address("127.0.0.3", "eth1", 3)};
    o.s5b = true;
    o.jid = "romeo@example.org/orchard";
    o.deadline = 2000ms;
    return o;
}

// A source that follows a script of timed steps on the sink's loop.
class ScriptedSource final : public Source {
public:
    struct Step {
        std::chrono::milliseconds at;
        std::function<void(SourceSink&)> action;
    };
    ScriptedSource(std::string name, std::vector<Step> steps, int* stops = nullptr)
        : name_(std::move(name)), steps_(std::move(steps)), stops_(stops) {}
    std::string name() const override { return name_; }
    void start(SourceSink& sink) override {
        for (const Step& step : steps_) {
            timers_.push_back(
                sink.loop().call_after(step.at, [&sink, step] { step.action(sink); }));
        }
    }
    void stop() override {
        timers_.clear();
        if (stops_) {
            ++*stops_;
        }
    }

private:
    std::string name_;
    std::vector<Step> steps_;
    std::vector<std::unique_ptr<LoopHandle>> timers_;
    int* stops_;
};

ScriptedSource::Step finish_ok(std::chrono::milliseconds at) {
    return {at, [](SourceSink& s) {
                s.finish(SourceStatus::ok());
            }};
}
ScriptedSource::Step external(std::chrono::milliseconds at, const char* ip, const char* who) {
    return {at, [ip, who](SourceSink& s) {
                s.add_external_address(
                    {*IpAddress::parse(ip), std::nullopt, std::nullopt, {who, "test"}});
            }};
}

const SourceReport* report_of(const GatherResult& r, const std::string& name) {
    for (const auto& s : r.sources) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

std::string reasons(const GatherResult& r) {
    std::string all;
    for (const auto& d : r.dropped) {
        all += d.address + ": " + d.reason + "\n";
    }
    return all;
}

} // namespace

TEST(Gatherer, HostOnlyTricklesEveryCandidateBeforeCompleting) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    std::vector<Candidate> trickled;
    bool completed = false;
    g.on_candidate = [&](const Candidate& c) {
        EXPECT_FALSE(completed);
        trickled.push_back(c);
    };
    g.on_complete = [&](const GatherResult&) {
        completed = true;
    };
    ASSERT_TRUE(g.gather());
    EXPECT_TRUE(trickled.empty()) << "no callback may run inside gather()";
    ASSERT_TRUE(t.run_until([&] { return completed; }));

    const GatherResult& r = g.result();
    ASSERT_EQ(r.ice.size(), 3U);
    ASSERT_EQ(r.s5b.size(), 3U);
    EXPECT_EQ(trickled.size(), 6U);
    // RFC 8421 order: ::1 first, then 127.0.0.2, then 127.0.0.3.
    EXPECT_EQ(r.ice[0].host, "::1");
    EXPECT_EQ(r.ice[1].host, "127.0.0.2");
    EXPECT_EQ(r.ice[2].host, "127.0.0.3");
    std::set<std::string> ids;
    std::set<std::uint32_t> priorities;
    for (const Candidate& c : r.ice) {
        EXPECT_EQ(c.ice()->type, IceType::Host);
        EXPECT_FALSE(c.ice()->related);
        EXPECT_GT(c.port, 0);
        EXPECT_EQ(c.ice()->generation, 0U);
        ids.insert(c.ice()->id);
        priorities.insert(c.priority);
    }
    EXPECT_EQ(ids.size(), 3U);
    EXPECT_EQ(priorities.size(), 3U);
    EXPECT_EQ(r.ice[0].priority, 2130706431U);
    EXPECT_EQ(r.ice[0].ice()->network, 2U);
    EXPECT_EQ(r.ice[2].ice()->network, 3U);
    // S5B: one listener port, distinct priorities, the configured JID.
    std::set<std::uint32_t> s5b_priorities;
    for (const Candidate& c : r.s5b) {
        EXPECT_EQ(c.s5b()->type, S5bType::Direct);
        EXPECT_EQ(c.port, r.s5b_port);
        EXPECT_EQ(c.s5b()->jid, "romeo@example.org/orchard");
        s5b_priorities.insert(c.priority);
    }
    EXPECT_EQ(s5b_priorities.size(), 3U);
    ASSERT_NE(report_of(r, "host"), nullptr);
    EXPECT_EQ(report_of(r, "host")->state, SourceState::Ok);
}

TEST(Gatherer, CredentialsAreRfc8445IceCharsFromACsprng) {
    TestLoop t;
    std::set<std::string> seen;
    for (int i = 0; i < 5; ++i) {
        Gatherer g(t.loop(), test_options());
        ASSERT_TRUE(g.gather());
        const auto& r = g.result();
        EXPECT_EQ(r.ufrag.size(), 8U);
        EXPECT_EQ(r.pwd.size(), 24U);
        for (char c : r.ufrag + r.pwd) {
            EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/') << c;
        }
        EXPECT_TRUE(seen.insert(r.ufrag).second);
    }
}

TEST(Gatherer, ComponentsGetTheirOwnSocketsAndPriorities) {
    TestLoop t;
    auto options = test_options();
    options.components = 2;
    options.s5b = false;
    Gatherer g(t.loop(), options);
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    ASSERT_EQ(g.result().ice.size(), 6U);
    EXPECT_TRUE(g.result().s5b.empty());
    const Candidate& rtp = g.result().ice[0];
    const Candidate& rtcp = g.result().ice[1];
    EXPECT_EQ(rtp.host, rtcp.host);
    EXPECT_EQ(rtp.ice()->component, 1U);
    EXPECT_EQ(rtcp.ice()->component, 2U);
    EXPECT_EQ(rtp.priority - rtcp.priority, 1U);
    EXPECT_EQ(rtp.ice()->foundation, rtcp.ice()->foundation); // same type, base IP, server
    EXPECT_NE(rtp.port, rtcp.port);
}

TEST(Gatherer, RejectsInvalidOptionsAndASecondGather) {
    TestLoop t;
    auto none = test_options();
    none.ice = false;
    none.s5b = false;
    EXPECT_FALSE(Gatherer(t.loop(), none).gather());
    auto components = test_options();
    components.components = 0;
    auto bad = Gatherer(t.loop(), components).gather();
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("components"), std::string::npos);
    auto range = test_options();
    range.host.port_min = 6000;
    range.host.port_max = 5000;
    EXPECT_FALSE(Gatherer(t.loop(), range).gather());

    Gatherer g(t.loop(), test_options());
    ASSERT_TRUE(g.gather());
    auto again = g.gather();
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("already"), std::string::npos);
}

TEST(Gatherer, AFailingSourceDoesNotDisturbOthers) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(std::make_unique<ScriptedSource>(
        "broken",
        std::vector<ScriptedSource::Step>{{5ms, [](SourceSink& s) {
                                               s.finish(SourceStatus::failed("server said no"));
                                           }}}));
    g.add_source(std::make_unique<ScriptedSource>(
        "good",
        std::vector<ScriptedSource::Step>{external(20ms, "203.0.113.7", "good"), finish_ok(25ms)}));
    std::vector<std::string> order;
    g.on_source_done = [&](const SourceReport& r) {
        order.push_back(r.name);
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    EXPECT_EQ(order, (std::vector<std::string>{"host", "broken", "good"}));
    const auto* broken = report_of(g.result(), "broken");
    ASSERT_NE(broken, nullptr);
    EXPECT_EQ(broken->state, SourceState::Failed);
    EXPECT_EQ(broken->error, "server said no");
    EXPECT_EQ(report_of(g.result(), "good")->state, SourceState::Ok);
    EXPECT_EQ(g.result().external_addresses.size(), 1U);
    // IPv4 external: a srflx for each IPv4 base, and one assisted S5B candidate.
    const auto srflx =
        std::count_if(g.result().ice.begin(), g.result().ice.end(),
                      [](const Candidate& c) { return c.ice()->type == IceType::Srflx; });
    EXPECT_EQ(srflx, 2);
}

TEST(Gatherer, DerivesSrflxAndAssistedByTheRules) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(
        std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("203.0.113.7"), 7000));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    const auto& r = g.result();
    ASSERT_EQ(r.external_addresses.size(), 1U);
    EXPECT_EQ(r.external_addresses[0].origin.source, "config");

    std::vector<const Candidate*> srflx;
    for (const auto& c : r.ice) {
        if (c.ice()->type == IceType::Srflx) {
            srflx.push_back(&c);
        }
    }
    ASSERT_EQ(srflx.size(), 2U); // 127.0.0.2 and 127.0.0.3; none for the IPv6 base
    for (const Candidate* c : srflx) {
        EXPECT_EQ(c->host, "203.0.113.7");
        ASSERT_TRUE(c->ice()->related);
        EXPECT_EQ(c->port, c->ice()->related->port) << "a guess keeps the base's own port";
        EXPECT_EQ(c->origin.source, "config");
        // Ranked below any STUN-verified srflx (local preference in the lower half).
        EXPECT_LT(c->priority, 100U << 24 | 32768U << 8);
        // Own foundation, different from the host candidates'.
        for (const auto& h : r.ice) {
            if (h.ice()->type == IceType::Host) {
                EXPECT_NE(h.ice()->foundation, c->ice()->foundation);
            }
        }
    }
    EXPECT_NE(srflx[0]->ice()->foundation, srflx[1]->ice()->foundation) << "different bases";
    // Sorted by priority, highest first.
    EXPECT_TRUE(
        std::is_sorted(r.ice.begin(), r.ice.end(), [](const Candidate& a, const Candidate& b) {
            return a.priority > b.priority;
        }));
    const auto assisted = std::find_if(r.s5b.begin(), r.s5b.end(), [](const Candidate& c) {
        return c.s5b()->type == S5bType::Assisted;
    });
    ASSERT_NE(assisted, r.s5b.end());
    EXPECT_EQ(assisted->host, "203.0.113.7");
    EXPECT_EQ(assisted->port, 7000) << "the forwarded port";
    EXPECT_EQ(assisted->priority >> 16, 120U);
}

TEST(Gatherer, ExternalAddressEqualToALocalOneDerivesNothing) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("127.0.0.3")));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    const auto& r = g.result();
    EXPECT_EQ(r.external_addresses.size(), 1U) << "the finding is always kept";
    EXPECT_EQ(r.ice.size(), 3U);
    EXPECT_EQ(r.s5b.size(), 3U);
    EXPECT_NE(reasons(r).find("127.0.0.3: external address from config (external address) is a "
                              "local address (no NAT)"),
              std::string::npos)
        << reasons(r);
}

TEST(Gatherer, SameExternalAddressTwiceIsRedundant) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(std::make_unique<ScriptedSource>(
        "a", std::vector<ScriptedSource::Step>{external(1ms, "203.0.113.9", "a"), finish_ok(2ms)}));
    g.add_source(std::make_unique<ScriptedSource>(
        "b", std::vector<ScriptedSource::Step>{external(5ms, "203.0.113.9", "b"), finish_ok(6ms)}));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    const auto& r = g.result();
    EXPECT_EQ(r.external_addresses.size(), 2U);
    EXPECT_EQ(std::count_if(r.ice.begin(), r.ice.end(),
                            [](const Candidate& c) { return c.ice()->type == IceType::Srflx; }),
              2);
    EXPECT_EQ(std::count_if(r.s5b.begin(), r.s5b.end(),
                            [](const Candidate& c) { return c.s5b()->type == S5bType::Assisted; }),
              1);
    EXPECT_NE(reasons(r).find("redundant"), std::string::npos) << reasons(r);
}

TEST(Gatherer, SourceCandidatesAreVerifiedSrflxAndEqualToBaseIsDropped) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(std::make_unique<ScriptedSource>(
        "stun",
        std::vector<ScriptedSource::Step>{
            {1ms,
             [](SourceSink& s) {
                 const auto& bases = s.bases();
                 ASSERT_EQ(bases.size(), 3U);
                 // base 1 is 127.0.0.2: a mapping, and one equal to the base itself.
                 s.add_candidate({IceType::Srflx,
                                  {*IpAddress::parse("203.0.113.20"), 40000},
                                  1,
                                  "198.51.100.1:3478", {}});
                 s.add_candidate({IceType::Srflx, bases[2].address(), 2, "198.51.100.1:3478", {}});
                 s.add_candidate({IceType::Srflx, {*IpAddress::parse("203.0.113.20"), 1}, 99, "x", {}});
             }},
            finish_ok(2ms)}));
    // SIC-like guess for the same IP afterwards: not needed, STUN already mapped that base.
    g.add_source(std::make_unique<ScriptedSource>(
        "sic",
        std::vector<ScriptedSource::Step>{external(10ms, "203.0.113.20", "sic"), finish_ok(11ms)}));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    const auto& r = g.result();
    std::vector<const Candidate*> srflx;
    for (const auto& c : r.ice) {
        if (c.ice()->type == IceType::Srflx) {
            srflx.push_back(&c);
        }
    }
    // The STUN one for 127.0.0.2, and the SIC guess for 127.0.0.3 only.
    ASSERT_EQ(srflx.size(), 2U) << reasons(r);
    EXPECT_EQ(srflx[0]->origin.source, "stun");
    EXPECT_EQ(srflx[0]->port, 40000);
    EXPECT_EQ(srflx[0]->priority, 100U << 24 | 65534U << 8 | 255U);
    EXPECT_EQ(srflx[1]->origin.source, "sic");
    EXPECT_EQ(srflx[1]->ice()->related->ip.to_string(), "127.0.0.3");
    const std::string why = reasons(r);
    EXPECT_NE(why.find("equals its base: no NAT"), std::string::npos) << why;
    EXPECT_NE(why.find("already mapped this base"), std::string::npos) << why;
    // The report for a base that does not exist is refused, and fails the source.
    EXPECT_NE(why.find("reported a candidate for base 99, which does not exist (3 bases)"),
              std::string::npos)
        << why;
    EXPECT_EQ(report_of(r, "stun")->state, SourceState::Failed);
}

TEST(Gatherer, DeadlineEndsSilentSourcesAsTimedOut) {
    TestLoop t;
    auto options = test_options();
    options.deadline = 100ms;
    Gatherer g(t.loop(), options);
    int stops = 0;
    g.add_source(
        std::make_unique<ScriptedSource>("silent", std::vector<ScriptedSource::Step>{}, &stops));
    g.add_source(std::make_unique<ScriptedSource>(
        "late", std::vector<ScriptedSource::Step>{external(5000ms, "203.0.113.1", "late")},
        &stops));
    g.add_source(std::make_unique<ScriptedSource>(
        "quick", std::vector<ScriptedSource::Step>{finish_ok(1ms)}, &stops));
    std::size_t host_candidates_before_complete = 0;
    g.on_complete = [&](const GatherResult& r) {
        host_candidates_before_complete = r.ice.size();
    };
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 3000ms));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 95ms);
    EXPECT_LT(took, 1000ms);
    EXPECT_EQ(host_candidates_before_complete, 3U);
    EXPECT_EQ(report_of(g.result(), "silent")->state, SourceState::TimedOut);
    EXPECT_EQ(report_of(g.result(), "late")->state, SourceState::TimedOut);
    EXPECT_EQ(report_of(g.result(), "quick")->state, SourceState::Ok);
    EXPECT_EQ(stops, 2) << "stop() for each unfinished source, once";
    EXPECT_TRUE(g.result().external_addresses.empty());
}

TEST(Gatherer, EachSourceReportsExactlyOnce) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(std::make_unique<ScriptedSource>(
        "twice", std::vector<ScriptedSource::Step>{finish_ok(1ms),
                                                   {2ms,
                                                    [](SourceSink& s) {
                                                        s.finish(SourceStatus::failed("again"));
                                                    }},
                                                   external(3ms, "203.0.113.1", "twice")}));
    g.add_source(std::make_unique<ScriptedSource>(
        "slow", std::vector<ScriptedSource::Step>{finish_ok(20ms)}));
    int reports = 0;
    g.on_source_done = [&](const SourceReport& r) {
        reports += r.name == "twice";
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    EXPECT_EQ(reports, 1);
    EXPECT_EQ(report_of(g.result(), "twice")->state, SourceState::Ok);
    EXPECT_TRUE(g.result().external_addresses.empty()) << "reports after finish are ignored";
}

TEST(Gatherer, CancelStopsSourcesAndCompletesFromTheLoop) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    int stops = 0;
    g.add_source(std::make_unique<ScriptedSource>(
        "pending", std::vector<ScriptedSource::Step>{external(50ms, "203.0.113.1", "p")}, &stops));
    int completions = 0;
    g.on_complete = [&](const GatherResult&) {
        ++completions;
    };
    std::size_t delivered = 0;
    g.on_candidate = [&](const Candidate&) {
        ++delivered;
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return delivered == 6; })); // 3 host + 3 direct
    t.run_until([] { return false; }, 5ms);                   // the source has started
    g.cancel();
    EXPECT_EQ(stops, 1);
    EXPECT_EQ(completions, 0) << "completion is reported from the loop, not from cancel()";
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    EXPECT_EQ(completions, 1);
    EXPECT_EQ(report_of(g.result(), "pending")->state, SourceState::Cancelled);
    g.cancel();
    t.run_until([] { return false; }, 80ms); // the script's timer would have fired by now
    EXPECT_EQ(completions, 1);
    EXPECT_TRUE(g.result().external_addresses.empty());
}

TEST(Gatherer, CancelBeforeTheFirstIterationStillReportsHost) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(
        std::make_unique<ScriptedSource>("s", std::vector<ScriptedSource::Step>{finish_ok(1ms)}));
    ASSERT_TRUE(g.gather());
    g.cancel();
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    ASSERT_NE(report_of(g.result(), "host"), nullptr);
    EXPECT_EQ(report_of(g.result(), "s")->state, SourceState::Cancelled);
}

TEST(Gatherer, DestroyingMidGatheringIsSafe) {
    TestLoop t;
    int stops = 0;
    {
        auto g = std::make_unique<Gatherer>(t.loop(), test_options());
        g->add_source(std::make_unique<ScriptedSource>(
            "pending", std::vector<ScriptedSource::Step>{external(10ms, "203.0.113.1", "p")},
            &stops));
        ASSERT_TRUE(g->gather());
        t.run_until([] { return false; }, 5ms); // started, not yet reported
    }
    EXPECT_EQ(stops, 1);
    // Nothing left on the loop may touch the destroyed gatherer.
    t.run_until([] { return false; }, 50ms);
}

TEST(Gatherer, DestroyingFromInsideItsOwnCallbacksIsSafe) {
    TestLoop t;
    for (int when : {0, 1, 2}) { // on first candidate, on a source report, on completion
        auto g = std::make_unique<Gatherer>(t.loop(), test_options());
        g->add_source(std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("203.0.113.7")));
        bool destroyed = false;
        auto destroy = [&] {
            g.reset();
            destroyed = true;
        };
        if (when == 0) {
            g->on_candidate = [&](const Candidate&) {
                destroy();
            };
        } else if (when == 1) {
            g->on_source_done = [&](const SourceReport&) {
                destroy();
            };
        } else {
            g->on_complete = [&](const GatherResult&) {
                destroy();
            };
        }
        ASSERT_TRUE(g->gather());
        ASSERT_TRUE(t.run_until([&] { return destroyed; })) << when;
        t.run_until([] { return false; }, 20ms);
    }
}

TEST(Gatherer, HandsOverSocketsAfterCompletion) {
    TestLoop t;
    auto options = test_options();
    options.s5b_port.reset();
    Gatherer g(t.loop(), options);
    ASSERT_TRUE(g.gather());
    EXPECT_TRUE(g.take_sockets().empty()) << "not before completion";
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    auto sockets = g.take_sockets();
    ASSERT_EQ(sockets.size(), 3U);
    for (const auto& s : sockets) {
        EXPECT_GE(s.fd, 0);
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        ASSERT_EQ(getsockname(s.fd, reinterpret_cast<sockaddr*>(&bound), &length), 0);
        close(s.fd);
    }
    EXPECT_TRUE(g.take_sockets().empty()) << "taken once";
    const int listener = g.take_s5b_listener();
    EXPECT_GE(listener, 0);
    close(listener);
}

TEST(Gatherer, BindsInsideAPortRange) {
    TestLoop t;
    auto options = test_options();
    options.host.port_min = 47100;
    options.host.port_max = 47163;
    options.components = 2;
    Gatherer g(t.loop(), options);
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    ASSERT_EQ(g.result().ice.size(), 6U) << reasons(g.result());
    for (const Candidate& c : g.result().ice) {
        EXPECT_GE(c.port, 47100);
        EXPECT_LE(c.port, 47163);
    }
}

TEST(Gatherer, AnAddressThatCannotBeBoundIsDroppedWithTheReason) {
    TestLoop t;
    auto options = test_options();
    options.host.addresses->push_back(
        test::local_address("192.0.2.99", "eth9", 9)); // not on this host
    Gatherer g(t.loop(), options);
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    EXPECT_EQ(g.result().ice.size(), 3U);
    EXPECT_EQ(g.result().s5b.size(), 3U) << "no SOCKS5 candidate for an address without a base";
    EXPECT_NE(reasons(g.result()).find("192.0.2.99: cannot bind UDP socket: "), std::string::npos)
        << reasons(g.result());
}

TEST(Gatherer, WhenNoBaseCanBeBoundGatherFailsWithTheSystemsReason) {
    // Never an "ok" gathering with nothing in it (out of descriptors, a port range taken).
    TestLoop t;
    auto options = test_options();
    options.host.addresses =
        std::vector<LocalAddress>{test::local_address("192.0.2.99", "eth9", 9)}; // not here
    Gatherer g(t.loop(), options);
    auto started = g.gather();
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("no UDP socket could be bound: cannot bind UDP socket"),
              std::string::npos)
        << started.error().message;
    EXPECT_EQ(g.phase(), GatherPhase::Idle);
}

TEST(Gatherer, AVerifiedSrflxSupersedesAnEarlierGuessForTheSameBaseAndIp) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    g.add_source(std::make_unique<ScriptedSource>(
        "sic",
        std::vector<ScriptedSource::Step>{external(1ms, "203.0.113.20", "sic"), finish_ok(2ms)}));
    g.add_source(std::make_unique<ScriptedSource>(
        "stun", std::vector<ScriptedSource::Step>{
                    {10ms,
                     [](SourceSink& s) {
                         s.add_candidate({IceType::Srflx,
                                          {*IpAddress::parse("203.0.113.20"), 40000},
                                          1,
                                          "198.51.100.1:3478", {}});
                     }},
                    finish_ok(11ms)}));
    std::vector<std::string> trickled;
    g.on_candidate = [&](const Candidate& c) {
        if (c.ice() && c.ice()->type == IceType::Srflx) {
            trickled.push_back(c.origin.source + " " + c.ice()->related->to_string());
        }
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
    // Trickled: the two SIC guesses (bases 127.0.0.2 and .3), then STUN's for 127.0.0.2.
    EXPECT_EQ(trickled.size(), 3U);
    std::vector<std::string> kept;
    for (const auto& c : g.result().ice) {
        if (c.ice()->type == IceType::Srflx) {
            kept.push_back(c.origin.source + " " + c.ice()->related->ip.to_string());
        }
    }
    EXPECT_EQ(kept, (std::vector<std::string>{"stun 127.0.0.2", "sic 127.0.0.3"}));
    EXPECT_NE(reasons(g.result()).find("superseded by the one stun (198.51.100.1:3478) verified"),
              std::string::npos)
        << reasons(g.result());
    EXPECT_EQ(g.result().external_addresses.size(), 1U) << "the SIC finding is kept";
}

namespace {

GatherResult verdict_of(std::vector<ScriptedSource::Step> steps) {
    TestLoop t;
    Gatherer g(t.loop(), test_options());
    if (!steps.empty()) {
        g.add_source(std::make_unique<ScriptedSource>("script", std::move(steps)));
    }
    EXPECT_TRUE(g.gather());
    EXPECT_TRUE(t.run_until([&] { return g.complete(); }));
    return g.result();
}

ScriptedSource::Step mapping(const char* ip, std::uint16_t port, std::size_t base, bool same_port) {
    return {1ms, [=](SourceSink& s) {
                const std::uint16_t mapped = same_port ? s.bases()[base].port : port;
                s.add_candidate(
                    {IceType::Srflx, {*IpAddress::parse(ip), mapped}, base, "stun.example", {}});
                ExternalAddress e{
                    *IpAddress::parse(ip), mapped, std::nullopt, {"stun", "stun.example"}};
                e.ice_candidates_reported = true;
                s.add_external_address(e);
            }};
}

} // namespace

TEST(NetworkVerdict, UnknownWithoutFindings) {
    const GatherResult r = verdict_of({});
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::Unknown);
    EXPECT_EQ(r.network.ipv4, NetworkVerdict::Nat::Unknown);
    EXPECT_EQ(r.network.ipv6, NetworkVerdict::Nat::Unknown);
    EXPECT_FALSE(r.network.port_preserved);
    EXPECT_TRUE(r.network.notes.empty());
}

TEST(NetworkVerdict, StunThroughANatThatKeepsOrChangesPorts) {
    GatherResult kept = verdict_of({mapping("203.0.113.2", 0, 1, true), finish_ok(2ms)});
    EXPECT_EQ(kept.network.nat, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(kept.network.port_preserved, true);
    GatherResult changed = verdict_of({mapping("203.0.113.2", 61000, 1, false), finish_ok(2ms)});
    EXPECT_EQ(changed.network.nat, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(changed.network.port_preserved, false);
}

TEST(NetworkVerdict, AMappingEqualToItsBaseMeansNoNat) {
    const GatherResult r =
        verdict_of({{1ms,
                     [](SourceSink& s) {
                         s.add_candidate({IceType::Srflx, s.bases()[1].address(), 1, "stun", {}});
                     }},
                    finish_ok(2ms)});
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::None);
}

TEST(NetworkVerdict, EachFamilyIsJudgedOnItsOwn) {
    // IPv4 through a NAT, IPv6 mapped to itself: the usual dual-stack home network. The v4 and
    // v6 external addresses differ, as they always do: no "disagreement".
    const GatherResult r = verdict_of(
        {{1ms,
          [](SourceSink& s) {
              for (std::size_t i = 0; i < s.bases().size(); ++i) {
                  const Base& base = s.bases()[i];
                  const bool v6 = base.local.ip.family() == Family::IPv6;
                  const TransportAddress mapped =
                      v6 ? base.address()
                         : TransportAddress{*IpAddress::parse("203.0.113.2"), base.port};
                  s.add_candidate({IceType::Srflx, mapped, i, "stun", {}});
                  ExternalAddress e{mapped.ip, mapped.port, std::nullopt, {"stun", "stun"}};
                  e.ice_candidates_reported = true;
                  s.add_external_address(e);
              }
          }},
         finish_ok(2ms)});
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.ipv4, NetworkVerdict::Nat::Nat);
    EXPECT_EQ(r.network.ipv6, NetworkVerdict::Nat::None);
    ASSERT_EQ(r.network.notes.size(), 1U) << r.network.notes.front();
    EXPECT_EQ(r.network.notes[0], "IPv4 goes through a NAT, IPv6 does not");
}

TEST(NetworkVerdict, NotesDisagreementsCarrierGradeAndPrivateAddresses) {
    const GatherResult r = verdict_of(
        {external(1ms, "203.0.113.9", "sic"), mapping("198.51.100.77", 0, 1, true),
         external(2ms, "100.64.0.5", "config"), external(3ms, "10.1.2.3", "sic"), finish_ok(4ms)});
    EXPECT_EQ(r.network.nat, NetworkVerdict::Nat::Nat);
    std::string notes;
    for (const auto& n : r.network.notes) {
        notes += n + "\n";
    }
    EXPECT_NE(notes.find("sources disagree on the external IPv4 address"), std::string::npos)
        << notes;
    EXPECT_NE(notes.find("100.64.0.5 from config (test) is carrier-grade NAT space (RFC 6598)"),
              std::string::npos)
        << notes;
    EXPECT_NE(notes.find("10.1.2.3 from sic (test) is a private address"), std::string::npos)
        << notes;
}
