// The loop's STUN pacer: RFC 8445 §14.2 asks that, whatever Ta each agent uses, "the combination
// of all transactions from all agents (if a given implementation runs several concurrent
// agents)" not be sent more often than once every 5 ms, "as though there were one global Ta".
// One pacer per loop holds the turns of every STUN source on it that paces with the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include <jgather/loop.hpp>

namespace jgather::detail {

class MultiplexLoop;

/**
 * @brief Turns to start a STUN transaction, one every kGap across the gatherings of one loop,
 * first come first started. Retransmissions are not new transactions and need no turn.
 */
class StunPacer final : public std::enable_shared_from_this<StunPacer> {
public:
    using Clock = std::chrono::steady_clock;
    /** RFC 8445 §14.2: the global Ta floor. */
    static constexpr std::chrono::milliseconds kGap{5};

    /** The pacer of the loop under @p loop (a gathering's multiplexer or the caller's loop). */
    static std::shared_ptr<StunPacer> of(EventLoop& loop);

    StunPacer(const EventLoop& base, std::shared_ptr<MultiplexLoop> loop);
    ~StunPacer();
    StunPacer(const StunPacer&) = delete;
    StunPacer& operator=(const StunPacer&) = delete;

    /** Takes the turn and returns true when a transaction may start now: nobody is waiting and
     * the last one started kGap ago or more. Otherwise false, and nothing taken. */
    bool start_now();
    /** Calls @p start from the loop when its turn comes (the turn is taken then); destroying
     * the handle before gives the turn up. */
    [[nodiscard]] std::unique_ptr<LoopHandle> wait_turn(std::function<void()> start);
    /** How long a transaction that asked now would wait for its turn. */
    [[nodiscard]] std::chrono::milliseconds wait_now() const;
    /** Transactions waiting for their turn. */
    [[nodiscard]] std::size_t waiting() const { return waiting_.size(); }

private:
    class Turn;
    void give_up(std::uint64_t id);
    void arm();
    void release();

    const EventLoop* base_; // the caller's loop: the key of the last start it leaves behind
    std::shared_ptr<MultiplexLoop> loop_;
    std::map<std::uint64_t, std::function<void()>> waiting_; // by id: in the order they asked
    std::uint64_t next_id_ = 1;
    Clock::time_point last_start_{};
    std::unique_ptr<LoopHandle> timer_;
};

} // namespace jgather::detail
