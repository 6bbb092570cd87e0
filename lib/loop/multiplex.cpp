#include "multiplex.hpp"
#include <array>
#include <cerrno>
#include <sys/epoll.h>
#include <vector>

#include "../util/guard.hpp"
#include "glib_loop.hpp"
#include "per_loop.hpp"

namespace jgather::detail {

// A timer's or a watch's handle: cancels it through the multiplexer, if that still exists.
class MultiplexLoop::Handle final : public LoopHandle {
public:
    using Cancel = void (MultiplexLoop::*)(std::uint64_t);
    Handle(std::weak_ptr<MultiplexLoop> loop, std::uint64_t id, Cancel cancel)
        : loop_(std::move(loop)), id_(id), cancel_(cancel) {}
    ~Handle() override {
        if (auto loop = loop_.lock()) {
            ((*loop).*cancel_)(id_);
        }
    }

private:
    std::weak_ptr<MultiplexLoop> loop_;
    std::uint64_t id_;
    Cancel cancel_;
};

std::shared_ptr<MultiplexLoop> MultiplexLoop::of(EventLoop& base) {
    if (auto* already = dynamic_cast<MultiplexLoop*>(&base)) {
        return already->shared_from_this();
    }
    return shared_per_loop<MultiplexLoop>(
        base, 0, [&base] { return std::make_shared<MultiplexLoop>(base); });
}

EventLoop& MultiplexLoop::base_of(EventLoop& loop) {
    auto* mux = dynamic_cast<MultiplexLoop*>(&loop);
    return mux ? mux->base() : loop;
}

MultiplexLoop::MultiplexLoop(EventLoop& base) : base_(base) {}

MultiplexLoop::~MultiplexLoop() {
    timer_.reset(); // the base loop's sources first: nothing may call into a dying multiplexer
    epoll_watch_.reset();
    watches_.clear();
}

std::unique_ptr<LoopHandle> MultiplexLoop::call_after(std::chrono::milliseconds delay,
                                                      std::function<void()> callback) {
    const std::uint64_t id = next_id_++;
    const auto due = Clock::now() + std::max(delay, std::chrono::milliseconds(0));
    const auto slot = schedule_.emplace(std::make_pair(due, id), id);
    timers_.emplace(id, Timer{std::move(callback), slot});
    arm();
    return std::make_unique<Handle>(weak_from_this(), id, &MultiplexLoop::cancel_timer);
}

void MultiplexLoop::cancel_timer(std::uint64_t id) {
    auto it = timers_.find(id);
    if (it == timers_.end()) {
        return; // ran already
    }
    schedule_.erase(it->second.due);
    timers_.erase(it);
    if (schedule_.empty()) {
        timer_.reset();
        armed_for_ = {};
    }
}

void MultiplexLoop::arm() {
    if (schedule_.empty()) {
        timer_.reset();
        armed_for_ = {};
        return;
    }
    const Clock::time_point earliest = schedule_.begin()->first.first;
    if (timer_ && armed_for_ <= earliest) {
        return; // the base timer fires no later than needed; run_timers() re-arms
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(earliest - Clock::now());
    timer_ =
        base_.call_after(std::max(wait, std::chrono::milliseconds(0)), [this] { run_timers(); });
    armed_for_ = earliest;
}

void MultiplexLoop::run_timers() {
    const auto self = shared_from_this(); // a callback may drop the last other reference
    timer_.reset();
    armed_for_ = {};
    const auto now = Clock::now();
    // What is due now, in due order; timers made from here on wait for the next turn of the
    // base loop (a callback that re-arms itself at 0 ms yields to the sockets).
    std::vector<std::uint64_t> due;
    for (auto it = schedule_.begin(); it != schedule_.end() && it->first.first <= now; ++it) {
        due.push_back(it->second);
    }
    for (const std::uint64_t id : due) {
        auto timer = timers_.find(id);
        if (timer == timers_.end()) {
            continue; // cancelled by an earlier callback of this turn
        }
        std::function<void()> callback = std::move(timer->second.callback);
        schedule_.erase(timer->second.due);
        timers_.erase(timer);
        // The callback is ours now: its handle may be destroyed inside it. Nothing escapes
        // into the base loop's C frames.
        (void)contain(callback);
    }
    arm();
}

std::unique_ptr<LoopHandle> MultiplexLoop::watch_readable(int fd, std::function<void()> callback) {
    const std::uint64_t id = next_id_++;
    auto watch = std::make_shared<Watch>();
    watch->fd = fd;
    if (!epoll_.valid()) {
        epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
        if (epoll_.valid()) {
            epoll_watch_ = base_.watch_readable(epoll_.get(), [this] { read_events(); });
            // Dispatched once per loop turn with a socket ready: without this, GLib's blocking
            // of a dispatching source costs two eventfd writes and a read each time, about one
            // system call per gathering in a burst. read_events() guards each watch instead.
            let_recurse(*epoll_watch_);
        }
    }
    bool registered = false;
    if (epoll_.valid()) {
        epoll_event event{};
        event.events = EPOLLIN; // level-triggered, like poll(): called while readable
        event.data.u64 = id;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0) {
            registered = true;
        } else if (errno == EEXIST) {
            // fd is registered: by a live watch (a second watch of one fd), or by a watch whose
            // fd was closed and reused, whose registration went with the close.
            auto owner = fd_owner_.find(fd);
            const bool live = owner != fd_owner_.end() && watches_.count(owner->second) != 0 &&
                              watches_[owner->second]->fd == fd &&
                              !watches_[owner->second]->fallback;
            if (!live && ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) == 0) {
                registered = true;
            }
        }
    }
    if (registered) {
        fd_owner_[fd] = id;
        watch->callback = std::move(callback);
    } else {
        // Not for epoll (a second watch of one fd, a file epoll refuses): the base loop's own.
        watch->fallback = base_.watch_readable(fd, std::move(callback));
    }
    watches_.emplace(id, std::move(watch));
    return std::make_unique<Handle>(weak_from_this(), id, &MultiplexLoop::cancel_watch);
}

void MultiplexLoop::cancel_watch(std::uint64_t id) {
    auto it = watches_.find(id);
    if (it == watches_.end()) {
        return;
    }
    const int fd = it->second->fd;
    if (auto owner = fd_owner_.find(fd); owner != fd_owner_.end() && owner->second == id) {
        // An fd closed already left the set by itself (EBADF/ENOENT then: nothing to do).
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        fd_owner_.erase(owner);
    }
    watches_.erase(it);
}

void MultiplexLoop::read_events() {
    const auto self = shared_from_this();
    std::array<epoll_event, 64> events;
    const int ready = ::epoll_wait(epoll_.get(), events.data(), events.size(), 0);
    for (int i = 0; i < ready; ++i) {
        auto it = watches_.find(events[static_cast<std::size_t>(i)].data.u64);
        if (it == watches_.end()) {
            continue; // cancelled by an earlier callback of this batch
        }
        const std::shared_ptr<Watch> watch = it->second; // survives its own cancellation
        if (watch->dispatching) {
            // A loop run from inside its own callback (the epoll source may recurse): the
            // watch is called again once that callback has returned, as GLib would.
            continue;
        }
        watch->dispatching = true;
        (void)contain(watch->callback);
        watch->dispatching = false;
    }
}

} // namespace jgather::detail
