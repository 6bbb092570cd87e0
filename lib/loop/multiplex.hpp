// The loop's multiplexer: every timer and socket watch of jgather's gatherings on one loop
// rides on two of the caller's loop sources, a timer heap and an epoll set, instead of one
// GSource each. A thousand gatherings add a thousand sockets to one epoll set, not a thousand
// fds to every poll() of the caller's loop, and their timers cost a heap entry, not a GSource.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include <jgather/loop.hpp>

#include "../util/unique_fd.hpp"

namespace jgather::detail {

/**
 * @brief An EventLoop on top of another, with the same contract: callbacks run from the base
 * loop, never inside call_after() or watch_readable(); destroying a handle cancels it, also
 * from inside its own callback. Timers with the same due time run in the order they were made;
 * a timer made while timers run waits for the next turn of the base loop (so that a callback
 * that re-arms itself at 0 ms yields to the sockets, as on GLib). A watch is never called
 * inside its own callback; other watches are, if that callback runs the loop (the epoll set
 * is a GLib source that may recurse, which saves a wake-up per dispatch).
 */
class MultiplexLoop final : public EventLoop, public std::enable_shared_from_this<MultiplexLoop> {
public:
    /** The multiplexer of @p base, shared by everything of jgather on it. */
    static std::shared_ptr<MultiplexLoop> of(EventLoop& base);
    /** The caller's loop under @p loop, if @p loop is a multiplexer; @p loop otherwise. For
     * what outlives every gathering (a background probe). */
    static EventLoop& base_of(EventLoop& loop);

    explicit MultiplexLoop(EventLoop& base);
    ~MultiplexLoop() override;
    MultiplexLoop(const MultiplexLoop&) = delete;
    MultiplexLoop& operator=(const MultiplexLoop&) = delete;

    [[nodiscard]] std::unique_ptr<LoopHandle> call_after(std::chrono::milliseconds delay,
                                                         std::function<void()> callback) override;
    [[nodiscard]] std::unique_ptr<LoopHandle>
    watch_readable(int fd, std::function<void()> callback) override;
    /** The base loop's own watch: only gatherings' sockets are multiplexed, and they are read. */
    [[nodiscard]] std::unique_ptr<LoopHandle>
    watch_writable(int fd, std::function<void()> callback) override {
        return base_.watch_writable(fd, std::move(callback));
    }

    /** The base loop. */
    [[nodiscard]] EventLoop& base() const { return base_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Timer {
        std::function<void()> callback;
        std::multimap<std::pair<Clock::time_point, std::uint64_t>, std::uint64_t>::iterator due;
    };
    struct Watch {
        int fd = -1;
        std::function<void()> callback;
        std::unique_ptr<LoopHandle> fallback; // the base loop's own, when epoll cannot take it
        bool dispatching = false;             // its callback is running (reentry guard)
    };
    class Handle;

    void cancel_timer(std::uint64_t id);
    void cancel_watch(std::uint64_t id);
    void arm();
    void run_timers();
    void read_events();

    EventLoop& base_;
    std::uint64_t next_id_ = 1;
    // Due time and creation order -> id; and the timers themselves.
    std::multimap<std::pair<Clock::time_point, std::uint64_t>, std::uint64_t> schedule_;
    std::unordered_map<std::uint64_t, Timer> timers_;
    std::unique_ptr<LoopHandle> timer_; // the base loop's timer, for the earliest due time
    Clock::time_point armed_for_{};
    UniqueFd epoll_;
    std::unique_ptr<LoopHandle> epoll_watch_;
    std::unordered_map<std::uint64_t, std::shared_ptr<Watch>> watches_;
    std::unordered_map<int, std::uint64_t> fd_owner_; // which watch holds fd's registration
};

} // namespace jgather::detail
