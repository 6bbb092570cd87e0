// The interface monitor: one per loop and network namespace, shared by every gathering and
// NetworkWatch on it. One rtnetlink dump at first use, then the kernel's notifications
// (RTM_NEWADDR/DELADDR/NEWLINK/DELLINK) keep the list current.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <jgather/loop.hpp>
#include <jgather/network.hpp>
#include <jgather/result.hpp>

#include "../util/netns.hpp"
#include "../util/unique_fd.hpp"
#include "netlink.hpp"

namespace jgather::detail {

/** @brief The current local addresses of one namespace, and who wants to hear of changes. */
class InterfaceMonitor : public std::enable_shared_from_this<InterfaceMonitor> {
public:
    /** The monitor of @p loop in the calling thread's network namespace, opened (socket, then
     * one dump) by the first caller. */
    static Result<std::shared_ptr<InterfaceMonitor>> of(EventLoop& loop);
    /** The same for a caller that knows it is in namespace @p netns (current_netns()). */
    static Result<std::shared_ptr<InterfaceMonitor>> of(EventLoop& loop, Netns netns);

    ~InterfaceMonitor();
    InterfaceMonitor(const InterfaceMonitor&) = delete;
    InterfaceMonitor& operator=(const InterfaceMonitor&) = delete;

    /** Every local address now: notifications the kernel queued are read first, so an address
     * added just before this call is in the list even before the loop ran. */
    const std::vector<LocalAddress>& addresses();

    /** As addresses(), except that a read that found the socket empty less than kFresh ago
     * counts as current: a burst of gatherings reads the socket once, not once each (one
     * recv() answering EAGAIN per gathering). A change the kernel queued within that window
     * reaches a running gathering as a network change, like any later one. */
    const std::vector<LocalAddress>& recent_addresses();

    /** How long an empty read stays current for recent_addresses() and subscribe(). */
    static constexpr std::chrono::microseconds kFresh{1000};

    /** @brief A listener's registration; destroying it unregisters (from anywhere, also
     * from inside the listener). */
    class Subscription {
    public:
        Subscription(std::shared_ptr<InterfaceMonitor> monitor, std::uint64_t id)
            : monitor_(std::move(monitor)), id_(id) {}
        ~Subscription();
        Subscription(const Subscription&) = delete;
        Subscription& operator=(const Subscription&) = delete;

    private:
        std::shared_ptr<InterfaceMonitor> monitor_;
        std::uint64_t id_;
    };

    /** Calls @p listener from the loop with each change (never from inside a jgather call).
     * What is queued and unread (see recent_addresses()) is a change to it too. */
    std::unique_ptr<Subscription> subscribe(std::function<void(const NetworkChange&)> listener);

    /** The notifications the kernel dropped (socket buffer full) and a new dump replaced. */
    [[nodiscard]] unsigned resyncs() const { return resyncs_; }

private:
    InterfaceMonitor(EventLoop& loop, UniqueFd fd);
    Result<void> resync();
    void read_pending();
    void read_pending_unless_fresh();
    // Applies one notification; true when an address came or went or a link went up or down.
    bool apply(const nlmsghdr* msg);
    void schedule_report();
    void report();

    EventLoop& loop_;
    UniqueFd fd_; // subscribed to the link and address groups, non-blocking
    Links links_;
    std::vector<LocalAddress> addresses_;
    std::vector<LocalAddress> reported_; // the list as the listeners last heard of it
    std::unique_ptr<LoopHandle> watch_;
    std::unique_ptr<LoopHandle> report_;
    std::map<std::uint64_t, std::shared_ptr<std::function<void(const NetworkChange&)>>> listeners_;
    std::uint64_t next_id_ = 1;
    unsigned resyncs_ = 0;
    bool dirty_ = false; // notifications applied since the last report
    bool stale_ = false; // a resync failed: the list may be wrong until one succeeds
    std::chrono::steady_clock::time_point drained_at_{}; // the last read that found nothing
    Netns netns_{};      // the namespace it reports on
};

/** The net difference between two address lists (by interface index and IP). */
NetworkChange difference(const std::vector<LocalAddress>& before,
                         const std::vector<LocalAddress>& after);

} // namespace jgather::detail
