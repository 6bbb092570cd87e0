// One pump per loop delivers the queued events of every gathering on it: one loop callback per
// iteration for all of them, rather than a timer source of each gathering's own (a thousand
// GSources created, attached and destroyed per burst, each polled by every iteration).
#pragma once

#include <memory>
#include <vector>

#include <jgather/loop.hpp>

namespace jgather::detail {

/** @brief What the pump calls: a gathering with events queued. */
class Deliverer {
public:
    virtual ~Deliverer() = default;
    /** Delivers what is queued (called from the loop). */
    virtual void deliver() = 0;
};

/** @brief The loop's event pump, shared by every gathering on it. */
class EventPump : public std::enable_shared_from_this<EventPump> {
public:
    /** The pump of @p loop. */
    static std::shared_ptr<EventPump> of(EventLoop& loop);

    explicit EventPump(EventLoop& loop) : loop_(loop) {}

    /** Calls @p target's deliver() from the loop, in the order scheduled, unless @p alive has
     * expired by then (the gathering was destroyed). */
    void schedule(Deliverer& target, std::weak_ptr<bool> alive);

private:
    void run();

    struct Pending {
        Deliverer* target;
        std::weak_ptr<bool> alive;
    };
    EventLoop& loop_;
    std::vector<Pending> pending_;
    std::vector<Pending> running_; // kept: its capacity serves the next iteration
    std::unique_ptr<LoopHandle> handle_;
};

} // namespace jgather::detail
