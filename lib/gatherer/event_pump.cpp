#include "event_pump.hpp"

#include "../loop/per_loop.hpp"

namespace jgather::detail {

std::shared_ptr<EventPump> EventPump::of(EventLoop& loop) {
    return shared_per_loop<EventPump>(loop, 0,
                                      [&loop] { return std::make_shared<EventPump>(loop); });
}

void EventPump::schedule(Deliverer& target, std::weak_ptr<bool> alive) {
    pending_.push_back({&target, std::move(alive)});
    if (!handle_) {
        handle_ = loop_.call_after(std::chrono::milliseconds(0), [this] { run(); });
    }
}

void EventPump::run() {
    const auto self = shared_from_this(); // a callback may destroy the last gathering
    handle_.reset();
    running_.clear();
    running_.swap(pending_); // what is scheduled meanwhile waits for the next iteration
    for (const Pending& p : running_) {
        if (!p.alive.expired()) {
            p.target->deliver(); // may destroy any gathering: each is checked in its turn
        }
    }
    running_.clear();
}

} // namespace jgather::detail
