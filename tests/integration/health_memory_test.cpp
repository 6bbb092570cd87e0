// Health memory: a STUN server that did not answer is skipped at once by the next gathering
// (reported with the reason), probed in the background, and used again once a real server
// (coturn) answers on its address; tunable, and off with 0.
#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "sources/server_health.hpp"
#include "support/glib_loop.hpp"
#include "support/stun_gather.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

class HealthMemory : public testing::Test {
protected:
    void SetUp() override {
        detail::ServerHealth::instance().clear();
        port_ = test::free_udp_port("127.0.0.1"); // nothing listens there (yet)
        server_ = "127.0.0.1:" + std::to_string(port_);
    }
    void TearDown() override { detail::ServerHealth::instance().clear(); }

    test::StunRun gather(StunOptions stun = {}) {
        stun.final_wait = 400ms;
        return test::gather_with_stun({server_}, stun);
    }

    std::uint16_t port_ = 0;
    std::string server_;
};

TEST_F(HealthMemory, TheSecondGatheringSkipsASilentServerAtOnce) {
    const auto first = gather();
    EXPECT_EQ(first.stun.state, SourceState::TimedOut) << first.stun.error;
    EXPECT_GE(first.stun.elapsed, 400ms);

    const auto second = gather();
    EXPECT_EQ(second.stun.state, SourceState::Failed);
    EXPECT_NE(second.stun.error.find(server_ + " skipped: no answer"), std::string::npos)
        << second.stun.error;
    EXPECT_NE(second.stun.error.find("probed in the background"), std::string::npos);
    EXPECT_LT(second.stun.elapsed, 100ms) << "not waited for again";
}

TEST_F(HealthMemory, NothingIsRememberedWithZero) {
    StunOptions stun;
    stun.remember_silence = 0ms;
    (void)gather(stun);
    const auto second = gather(stun);
    EXPECT_EQ(second.stun.state, SourceState::TimedOut) << second.stun.error;
    EXPECT_GE(second.stun.elapsed, 400ms);
}

TEST_F(HealthMemory, TheMemoryEnds) {
    StunOptions stun;
    stun.remember_silence = 300ms;
    (void)gather(stun);
    EXPECT_TRUE(detail::ServerHealth::instance().silent(*StunSource::parse_server(server_)));
    test::TestLoop t;
    bool elapsed = false;
    auto timer = t.loop().call_after(350ms, [&] { elapsed = true; });
    ASSERT_TRUE(t.run_until([&] { return elapsed; }));
    const auto later = gather(stun);
    EXPECT_EQ(later.stun.state, SourceState::TimedOut) << "waited for again: " << later.stun.error;
}

TEST_F(HealthMemory, AServerThatComesBackIsUsedAgain) {
    (void)gather();
    ASSERT_TRUE(detail::ServerHealth::instance().silent(*StunSource::parse_server(server_)));
    test::Coturn coturn("127.0.0.1", port_); // the server comes back

    // A gathering skips it and probes it; the probe's answer forgets the silence.
    test::TestLoop t;
    StunOptions stun;
    stun.servers = {*StunSource::parse_server(server_)};
    stun.probe_interval = 0ms;
    bool answered = false;
    for (int attempt = 0; attempt < 20 && !answered; ++attempt) {
        GatherOptions options;
        options.host.include_loopback = true;
        LocalAddress lo;
        lo.ip = *IpAddress::parse("127.0.0.1");
        lo.interface = "lo";
        options.host.addresses = std::vector<LocalAddress>{lo};
        Gatherer g(t.loop(), options);
        g.add_source(std::make_unique<StunSource>(stun));
        ASSERT_TRUE(g.gather());
        ASSERT_TRUE(t.run_until([&] { return g.complete(); }));
        // The probe runs on the loop after the gathering ended (coturn may still be starting).
        answered = t.run_until(
            [&] { return !detail::ServerHealth::instance().silent(stun.servers[0]); }, 500ms);
    }
    ASSERT_TRUE(answered) << "the background probe never saw coturn's answer";

    const auto next = gather();
    EXPECT_EQ(next.stun.state, SourceState::Ok) << next.stun.error;
    EXPECT_EQ(next.stun.error.find("skipped"), std::string::npos) << next.stun.error;
}

} // namespace
