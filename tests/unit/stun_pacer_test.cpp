// The loop's STUN pacer (RFC 8445 §14.2: all transactions of all gatherings together no more
// often than once every 5 ms): turns in the order asked, kGap apart, from the loop only; a turn
// given up is skipped; a pacer made again right after the last one went still waits.
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sources/stun_pacer.hpp"
#include "support/glib_loop.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using detail::StunPacer;
using Clock = std::chrono::steady_clock;

TEST(StunPacer, OnePerLoopTurnsInOrderKGapApartFromTheLoopOnly) {
    test::TestLoop t;
    auto pacer = StunPacer::of(t.loop());
    EXPECT_EQ(StunPacer::of(t.loop()).get(), pacer.get());
    test::TestLoop other;
    EXPECT_NE(StunPacer::of(other.loop()).get(), pacer.get());

    ASSERT_TRUE(pacer->start_now()) << "nothing started yet";
    const auto first = Clock::now();
    EXPECT_FALSE(pacer->start_now()) << "within kGap of the last start";
    std::vector<int> order;
    std::vector<Clock::time_point> at;
    std::vector<std::unique_ptr<LoopHandle>> turns;
    for (int i = 0; i < 4; ++i) {
        turns.push_back(pacer->wait_turn([&, i] {
            order.push_back(i);
            at.push_back(Clock::now());
        }));
    }
    EXPECT_EQ(pacer->waiting(), 4U);
    const auto turn = Clock::now() + pacer->wait_now();
    EXPECT_GE(turn - first, 5 * StunPacer::kGap - 1ms) << "behind four, one gap each";
    EXPECT_FALSE(pacer->start_now()) << "others wait: no jumping the queue";
    EXPECT_TRUE(order.empty()) << "nothing runs inside wait_turn()";
    turns[2].reset(); // gives its turn up
    ASSERT_TRUE(t.run_until([&] { return order.size() == 3; }, 2000ms));
    EXPECT_EQ(order, (std::vector<int>{0, 1, 3}));
    auto previous = first;
    for (const auto when : at) {
        EXPECT_GE(when - previous, StunPacer::kGap);
        previous = when;
    }
}

TEST(StunPacer, APacerMadeAgainRightAfterTheLastOneWentStillWaits) {
    // Timed by the clock, so each attempt counts only when it is clearly inside kGap (refused)
    // or clearly past it (allowed); a slow machine (valgrind) retries.
    test::TestLoop t;
    int inside = 0;
    for (int attempt = 0; attempt < 50 && inside < 3; ++attempt) {
        const auto before = Clock::now();
        {
            auto pacer = StunPacer::of(t.loop());
            ASSERT_TRUE(pacer->start_now() || attempt > 0);
        } // the last holder went: the pacer is gone, its last start is remembered
        auto again = StunPacer::of(t.loop());
        const bool allowed = again->start_now();
        if (Clock::now() - before < StunPacer::kGap) {
            EXPECT_FALSE(allowed) << "within kGap of the last start on this loop";
            ++inside;
        }
        again.reset();
        std::this_thread::sleep_for(StunPacer::kGap); // the next attempt starts afresh
        EXPECT_TRUE(StunPacer::of(t.loop())->start_now()) << "kGap later: free again";
        std::this_thread::sleep_for(StunPacer::kGap);
    }
    EXPECT_GT(inside, 0) << "no attempt was quick enough to check";
}
