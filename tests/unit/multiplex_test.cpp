// The loop multiplexer keeps the EventLoop contract: callbacks from the loop only, handles that
// cancel (also from inside their own callback), timers in due order, a timer made while timers
// run waits for the next turn, level-triggered watches, a second watch of one fd, an fd closed
// and reused.
#include <algorithm>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "loop/multiplex.hpp"
#include "support/glib_loop.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

struct Pair {
    int fds[2] = {-1, -1};
    Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds), 0); }
    ~Pair() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    void send() const { EXPECT_EQ(::write(fds[1], "x", 1), 1); }
    void drain() const {
        char c;
        while (::read(fds[0], &c, 1) > 0) {
        }
    }
};

} // namespace

TEST(Multiplex, OneMultiplexerPerLoop) {
    test::TestLoop t;
    auto a = detail::MultiplexLoop::of(t.loop());
    auto b = detail::MultiplexLoop::of(t.loop());
    EXPECT_EQ(a.get(), b.get());
    EXPECT_EQ(detail::MultiplexLoop::of(*a).get(), a.get()) << "a multiplexer is its own";
    EXPECT_EQ(&detail::MultiplexLoop::base_of(*a), &t.loop());
}

TEST(Multiplex, TimersRunInDueOrderFromTheLoopOnly) {
    test::TestLoop t;
    auto mux = detail::MultiplexLoop::of(t.loop());
    std::vector<int> ran;
    auto late = mux->call_after(30ms, [&] { ran.push_back(3); });
    auto first = mux->call_after(0ms, [&] { ran.push_back(1); });
    auto second = mux->call_after(0ms, [&] { ran.push_back(2); });
    auto cancelled = mux->call_after(0ms, [&] { ran.push_back(99); });
    cancelled.reset();
    EXPECT_TRUE(ran.empty()) << "nothing runs inside call_after()";
    ASSERT_TRUE(t.run_until([&] { return ran.size() == 3; }, 2000ms));
    EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
}

TEST(Multiplex, AHandleDestroyedInsideItsOwnCallbackIsSafe) {
    test::TestLoop t;
    auto mux = detail::MultiplexLoop::of(t.loop());
    std::unique_ptr<LoopHandle> timer;
    bool ran = false;
    timer = mux->call_after(0ms, [&] {
        timer.reset(); // ASan would see a use after free
        ran = true;
    });
    Pair pair;
    std::unique_ptr<LoopHandle> watch;
    int reads = 0;
    watch = mux->watch_readable(pair.fds[0], [&] {
        ++reads;
        watch.reset();
    });
    pair.send();
    ASSERT_TRUE(t.run_until([&] { return ran && reads == 1; }, 2000ms));
    t.drain();
    EXPECT_EQ(reads, 1) << "no call after the handle went";
}

TEST(Multiplex, ATimerMadeWhileTimersRunWaitsForTheNextTurn) {
    test::TestLoop t;
    auto mux = detail::MultiplexLoop::of(t.loop());
    Pair pair;
    bool socket_read = false;
    auto watch = mux->watch_readable(pair.fds[0], [&] {
        pair.drain();
        socket_read = true;
    });
    pair.send();
    // A callback that re-arms itself at 0 ms must let the socket be read in between.
    int turns = 0;
    bool read_before_tenth = false;
    std::unique_ptr<LoopHandle> timer;
    std::function<void()> again = [&] {
        if (++turns == 10) {
            read_before_tenth = socket_read;
            return;
        }
        timer = mux->call_after(0ms, again);
    };
    timer = mux->call_after(0ms, again);
    ASSERT_TRUE(t.run_until([&] { return turns == 10; }, 2000ms));
    EXPECT_TRUE(read_before_tenth);
}

TEST(Multiplex, WatchesAreLevelTriggeredAndOneFdMayBeWatchedTwice) {
    test::TestLoop t;
    auto mux = detail::MultiplexLoop::of(t.loop());
    Pair pair;
    int first = 0;
    int second = 0;
    auto a = mux->watch_readable(pair.fds[0], [&] { ++first; });
    auto b = mux->watch_readable(pair.fds[0], [&] { ++second; }); // falls back to the base
    pair.send();
    ASSERT_TRUE(t.run_until([&] { return first >= 2 && second >= 2; }, 2000ms))
        << "not drained: called again";
    a.reset();
    b.reset();
    pair.drain();
}

TEST(Multiplex, AnFdClosedAndReusedIsWatchedAnew) {
    test::TestLoop t;
    auto mux = detail::MultiplexLoop::of(t.loop());
    auto old_pair = std::make_unique<Pair>();
    const int fd = old_pair->fds[0];
    auto stale = mux->watch_readable(fd, [] {});
    old_pair.reset(); // closed while watched: its registration went with it
    Pair pair;        // very likely the same numbers again
    int reads = 0;
    auto fresh = mux->watch_readable(pair.fds[0], [&] {
        pair.drain();
        ++reads;
    });
    stale.reset(); // must not remove the fresh registration
    pair.send();
    ASSERT_TRUE(t.run_until([&] { return reads == 1; }, 2000ms));
    (void)fd;
}

TEST(Multiplex, ALoopRunFromAWatchReachesTheOtherWatchesButNeverTheSameOne) {
    // The epoll set's GLib source may recurse (no eventfd wake-ups per dispatch): a loop run
    // from inside one watch's callback reads the other sockets, and the watch whose callback
    // is running is not called inside itself although its socket is still readable.
    test::TestLoop t;
    auto mux = detail::MultiplexLoop::of(t.loop());
    Pair running;
    Pair other;
    int depth = 0;
    int deepest = 0;
    int running_calls = 0;
    bool other_read_inside = false;
    auto other_watch = mux->watch_readable(other.fds[0], [&] {
        other.drain();
        other_read_inside = other_read_inside || depth > 0;
    });
    auto running_watch = mux->watch_readable(running.fds[0], [&] {
        ++running_calls;
        deepest = std::max(deepest, ++depth);
        if (running_calls == 1) {
            other.send();
            for (int i = 0; i < 20 && !other_read_inside; ++i) {
                g_main_context_iteration(t.context(), FALSE); // not drained yet: still readable
            }
        }
        running.drain();
        --depth;
    });
    running.send();
    ASSERT_TRUE(t.run_until([&] { return running_calls >= 1 && depth == 0; }, 2000ms));
    EXPECT_TRUE(other_read_inside) << "the epoll source was blocked while it dispatched";
    EXPECT_EQ(deepest, 1) << "a watch was called inside its own callback";
}
