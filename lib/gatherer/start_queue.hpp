// Fair starts: the gatherings of one loop start their sources in slices, so that a burst of N
// gatherings does not start all N in one loop iteration before any answer is read.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include <jgather/loop.hpp>

namespace jgather::detail {

/**
 * @brief The loop's queue of gatherings waiting to start their sources.
 *
 * Each loop iteration starts queued gatherings for at most kSlice, then yields to the loop
 * (which reads the answers to what was sent) before the next slice. A gathering that is
 * destroyed or ends while queued leaves it (its Ticket goes).
 */
class StartQueue : public std::enable_shared_from_this<StartQueue> {
public:
    /** How long one loop iteration starts gatherings before it reads answers again. */
    static constexpr std::chrono::microseconds kSlice{250};

    /** The queue of @p loop, shared by every gathering on it. */
    static std::shared_ptr<StartQueue> of(EventLoop& loop);

    /** @brief A place in the queue; destroying it leaves the queue. */
    class Ticket {
    public:
        Ticket(std::shared_ptr<StartQueue> queue, std::uint64_t id)
            : queue_(std::move(queue)), id_(id) {}
        ~Ticket();
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;

    private:
        std::shared_ptr<StartQueue> queue_;
        std::uint64_t id_;
    };

    /** Queues @p start, called from the loop in its turn (first come, first started). */
    std::unique_ptr<Ticket> enqueue(std::function<void()> start);

    explicit StartQueue(EventLoop& loop) : loop_(loop) {}

private:
    void run_slice();

    struct Waiting {
        std::uint64_t id;
        std::function<void()> start;
    };
    EventLoop& loop_;
    std::deque<Waiting> waiting_;
    std::unique_ptr<LoopHandle> slice_;
    std::uint64_t next_id_ = 1;
};

} // namespace jgather::detail
