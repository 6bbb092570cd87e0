#include "start_queue.hpp"
#include <algorithm>

#include "../loop/per_loop.hpp"

namespace jgather::detail {

std::shared_ptr<StartQueue> StartQueue::of(EventLoop& loop) {
    return shared_per_loop<StartQueue>(loop, 0,
                                       [&loop] { return std::make_shared<StartQueue>(loop); });
}

StartQueue::Ticket::~Ticket() {
    auto& waiting = queue_->waiting_;
    if (waiting.empty() || id_ < waiting.front().id) {
        return; // started already (first in, first out): nothing to search
    }
    auto it = std::find_if(waiting.begin(), waiting.end(),
                           [this](const Waiting& w) { return w.id == id_; });
    if (it != waiting.end()) {
        waiting.erase(it);
    }
}

std::unique_ptr<StartQueue::Ticket> StartQueue::enqueue(std::function<void()> start) {
    const std::uint64_t id = next_id_++;
    waiting_.push_back({id, std::move(start)});
    if (!slice_) {
        slice_ = loop_.call_after(std::chrono::milliseconds(0), [this] { run_slice(); });
    }
    return std::make_unique<Ticket>(shared_from_this(), id);
}

void StartQueue::run_slice() {
    const auto self = shared_from_this(); // a start may drop the last other reference
    slice_.reset();
    const auto until = std::chrono::steady_clock::now() + kSlice;
    // At least one per slice, however slow: the queue always moves.
    do {
        if (waiting_.empty()) {
            return;
        }
        Waiting next = std::move(waiting_.front());
        waiting_.pop_front();
        next.start(); // the gathering's Ticket no longer finds itself: nothing to erase
    } while (std::chrono::steady_clock::now() < until);
    if (!waiting_.empty()) {
        // Yield: the loop polls the sockets (answers to what was just sent) first.
        slice_ = loop_.call_after(std::chrono::milliseconds(0), [this] { run_slice(); });
    }
}

} // namespace jgather::detail
