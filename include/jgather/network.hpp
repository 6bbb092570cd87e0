/**
 * @file network.hpp
 * @brief Local network changes: addresses that appear, disappear or change state.
 *
 * jgather keeps one interface monitor per event loop (and network namespace), shared by every
 * gathering on it: one rtnetlink dump at first use, then kept current from the kernel's
 * address and link notifications. Gatherings read its list instead of enumerating the
 * interfaces themselves; a Gatherer tells its application when an address it used goes away or a
 * usable one appears (Gatherer::on_network_change); a NetworkWatch tells about every change.
 */
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <jgather/export.hpp>
#include <jgather/loop.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather {

/**
 * @brief What changed among the local addresses since the last report.
 *
 * Changes that follow each other within one loop iteration are reported together, as their net
 * effect (an address added and removed again is not reported).
 */
struct NetworkChange {
    std::vector<LocalAddress> added;   ///< Addresses that appeared (their state now).
    std::vector<LocalAddress> removed; ///< Addresses that disappeared (their last state).
    /** Addresses whose state changed: interface up or down, renamed, IPv6 tentative,
     * deprecated or failed duplicate address detection (their state now). */
    std::vector<LocalAddress> changed;

    /** True when nothing changed. */
    [[nodiscard]] bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

/**
 * @brief Watches the local addresses of the calling thread's network namespace, on a loop.
 *
 * Every watch (and every gathering) on one loop shares one interface monitor: one netlink
 * socket, one dump. A change is reported from the loop, as soon as the kernel announces it,
 * never from inside start() or another jgather call. The watch may be destroyed from its own
 * callback.
 */
class JGATHER_EXPORT NetworkWatch {
public:
    /** Called with each change. */
    using Callback = std::function<void(const NetworkChange&)>;

    /** Starts watching on @p loop (which must outlive the watch). Fails when the netlink
     * socket cannot be opened or the first dump fails, with the system's reason. */
    static Result<std::unique_ptr<NetworkWatch>> start(EventLoop& loop, Callback on_change);

    ~NetworkWatch();
    NetworkWatch(const NetworkWatch&) = delete;
    NetworkWatch& operator=(const NetworkWatch&) = delete;

    /** Every local address now, usable or not (the kernel's order). */
    [[nodiscard]] std::vector<LocalAddress> addresses() const;

private:
    NetworkWatch();
    class Private;
    std::unique_ptr<Private> d_;
};

} // namespace jgather
