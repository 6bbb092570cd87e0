// Many gatherings on one loop: a burst starts in slices (answers read between them), and a
// thousand gatherings created, run and destroyed leave no descriptor or memory behind (ASan,
// LSan and valgrind run this suite). The netlink monitor is shared: one for the whole burst.
#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>

#include "support/glib_loop.hpp"
#include "support/process.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

// Finishes on the loop iteration after its start: an answer that needs the loop to come back.
// Its start takes 5 µs, about what a STUN source's first send costs, so that a burst takes
// many slices (StartQueue::kSlice) whatever the machine.
class NextIterationSource final : public Source {
public:
    NextIterationSource(std::vector<int>& started, int index) : started_(started), index_(index) {}
    std::string name() const override { return "next-iteration"; }
    void start(SourceSink& sink) override {
        const auto until = std::chrono::steady_clock::now() + 5us;
        while (std::chrono::steady_clock::now() < until) {
        }
        started_.push_back(index_);
        timer_ = sink.loop().call_after(0ms, [&sink] { sink.finish({}); });
    }
    void stop() override { timer_.reset(); }

private:
    std::vector<int>& started_;
    int index_;
    std::unique_ptr<LoopHandle> timer_;
};

GatherOptions loopback_only() {
    GatherOptions options;
    options.host.include_loopback = true;
    LocalAddress lo;
    lo.ip = *IpAddress::parse("127.0.0.1");
    lo.interface = "lo";
    lo.interface_index = 1;
    options.host.addresses = std::vector<LocalAddress>{lo};
    return options;
}

} // namespace

TEST(Scale, ABurstStartsInSlicesSoEarlyGatheringsCompleteBeforeLateOnesStart) {
    test::TestLoop t;
    constexpr int kBurst = 3000;
    std::vector<int> started;
    std::vector<int> completed_when_started; // sources started when each gathering completed
    std::vector<std::unique_ptr<Gatherer>> gatherers;
    for (int i = 0; i < kBurst; ++i) {
        auto g = std::make_unique<Gatherer>(t.loop(), loopback_only());
        g->add_source(std::make_unique<NextIterationSource>(started, i));
        g->on_complete = [&](const GatherResult&) {
            completed_when_started.push_back(static_cast<int>(started.size()));
        };
        ASSERT_TRUE(g->gather());
        gatherers.push_back(std::move(g));
    }
    ASSERT_TRUE(t.run_until([&] { return completed_when_started.size() == kBurst; }, 60s));
    // First come, first started.
    EXPECT_TRUE(std::is_sorted(started.begin(), started.end()));
    // The first gathering completed while later ones had not started yet: its answer was read
    // between two slices, not after the whole burst had started.
    EXPECT_LT(completed_when_started.front(), kBurst)
        << "every source of the burst started before the first gathering completed";
    for (auto& g : gatherers) {
        for (const auto& s : g->take_sockets()) {
            close(s.fd);
        }
    }
}

TEST(Scale, AThousandGatheringsLeaveNoDescriptorBehind) {
    test::TestLoop t;
    {
        // The loop's shared state (its interface monitor) opens once and stays with the
        // gatherings: count from a gathering already run.
        Gatherer warm(t.loop(), {});
        ASSERT_TRUE(warm.gather());
        ASSERT_TRUE(t.run_until([&] { return warm.complete(); }));
    }
    t.drain();
    const int before = test::open_fds();
    int peak = 0;
    {
        std::vector<std::unique_ptr<Gatherer>> gatherers;
        std::vector<int> started;
        int done = 0;
        for (int i = 0; i < 1000; ++i) {
            // Enumerating (the loop's monitor), a socket per base, a source.
            auto g = std::make_unique<Gatherer>(t.loop(), GatherOptions{});
            g->add_source(std::make_unique<NextIterationSource>(started, i));
            g->on_complete = [&](const GatherResult&) {
                ++done;
            };
            ASSERT_TRUE(g->gather());
            gatherers.push_back(std::move(g));
        }
        ASSERT_TRUE(t.run_until([&] { return done == 1000; }, 60s));
        peak = test::open_fds();
        // Half destroyed after completion, half cancelled first: both paths release all.
        for (std::size_t i = 0; i < gatherers.size(); i += 2) {
            gatherers[i]->cancel();
        }
    }
    t.drain();
    EXPECT_GT(peak, before) << "the gatherings held sockets while alive";
    EXPECT_EQ(test::open_fds(), before) << "every socket was closed with its gatherer";
}
