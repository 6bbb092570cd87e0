#include "interface_monitor.hpp"
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include "../loop/per_loop.hpp"
#include "../sources/server_health.hpp"
#include "../util/guard.hpp"
#include "../util/netns.hpp"

namespace jgather::detail {
namespace {

bool same_address(const LocalAddress& a, const LocalAddress& b) {
    return a.interface_index == b.interface_index && a.ip == b.ip;
}

bool same_state(const LocalAddress& a, const LocalAddress& b) {
    return a.prefix_length == b.prefix_length && a.interface == b.interface && a.kind == b.kind &&
           a.link_kind == b.link_kind && a.up == b.up && a.tentative == b.tentative &&
           a.deprecated == b.deprecated && a.temporary == b.temporary &&
           a.dad_failed == b.dad_failed;
}

Result<UniqueFd> open_dump_socket() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd.valid()) {
        return Error{std::string("cannot open a netlink socket: ") + std::strerror(errno)};
    }
    return fd;
}

} // namespace

NetworkChange difference(const std::vector<LocalAddress>& before,
                         const std::vector<LocalAddress>& after) {
    NetworkChange change;
    for (const LocalAddress& now : after) {
        auto was = std::find_if(before.begin(), before.end(),
                                [&](const LocalAddress& b) { return same_address(b, now); });
        if (was == before.end()) {
            change.added.push_back(now);
        } else if (!same_state(*was, now)) {
            change.changed.push_back(now);
        }
    }
    for (const LocalAddress& was : before) {
        if (std::none_of(after.begin(), after.end(),
                         [&](const LocalAddress& a) { return same_address(a, was); })) {
            change.removed.push_back(was);
        }
    }
    return change;
}

Result<std::shared_ptr<InterfaceMonitor>> InterfaceMonitor::of(EventLoop& loop) {
    return of(loop, current_netns());
}

Result<std::shared_ptr<InterfaceMonitor>> InterfaceMonitor::of(EventLoop& loop, Netns netns) {
    return shared_per_loop<InterfaceMonitor>(
        loop, netns, [&loop, netns]() -> Result<std::shared_ptr<InterfaceMonitor>> {
            // Subscribe first, dump second: whatever changes during the dump is queued on the
            // subscribed socket and applied after it, so nothing falls between the two.
            UniqueFd fd(
                ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
            if (!fd.valid()) {
                return Error{std::string("cannot open a netlink socket: ") + std::strerror(errno)};
            }
            sockaddr_nl groups{};
            groups.nl_family = AF_NETLINK;
            groups.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
            if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&groups), sizeof groups) != 0) {
                return Error{std::string("cannot subscribe to interface changes: ") +
                             std::strerror(errno)};
            }
            std::shared_ptr<InterfaceMonitor> monitor(new InterfaceMonitor(loop, std::move(fd)));
            monitor->netns_ = netns;
            if (auto dumped = monitor->resync(); !dumped) {
                return dumped.error();
            }
            monitor->reported_ = monitor->addresses_;
            InterfaceMonitor* raw = monitor.get();
            monitor->watch_ = loop.watch_readable(raw->fd_.get(), [raw] { raw->read_pending(); });
            return monitor;
        });
}

InterfaceMonitor::InterfaceMonitor(EventLoop& loop, UniqueFd fd)
    : loop_(loop), fd_(std::move(fd)) {}

InterfaceMonitor::~InterfaceMonitor() {
    watch_.reset(); // no callback may reach a half-destroyed monitor
    report_.reset();
}

InterfaceMonitor::Subscription::~Subscription() {
    monitor_->listeners_.erase(id_);
}

const std::vector<LocalAddress>& InterfaceMonitor::addresses() {
    read_pending();
    return addresses_;
}

const std::vector<LocalAddress>& InterfaceMonitor::recent_addresses() {
    read_pending_unless_fresh();
    return addresses_;
}

void InterfaceMonitor::read_pending_unless_fresh() {
    if (stale_ || std::chrono::steady_clock::now() - drained_at_ >= kFresh) {
        read_pending();
    }
}

std::unique_ptr<InterfaceMonitor::Subscription>
InterfaceMonitor::subscribe(std::function<void(const NetworkChange&)> listener) {
    read_pending_unless_fresh();
    if (listeners_.empty()) {
        reported_ = addresses_; // nobody heard of earlier changes: they are no news to anyone
    }
    const std::uint64_t id = next_id_++;
    listeners_.emplace(
        id, std::make_shared<std::function<void(const NetworkChange&)>>(std::move(listener)));
    return std::make_unique<Subscription>(shared_from_this(), id);
}

Result<void> InterfaceMonitor::resync() {
    auto dump_fd = open_dump_socket();
    if (!dump_fd) {
        return dump_fd.error();
    }
    return dump_interfaces(dump_fd->get(), links_, addresses_);
}

void InterfaceMonitor::read_pending() {
    if (stale_) {
        stale_ = !resync();
        dirty_ = dirty_ || !stale_;
    }
    // Not zeroed: recv() fills what is read. Large enough for a burst of notifications.
    alignas(nlmsghdr) std::array<char, 16384> buffer;
    for (;;) {
        const ssize_t got = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) {
                // The kernel dropped notifications (socket buffer full): what we hold may be
                // wrong, so ask again. Notifications after the loss are still queued.
                ++resyncs_;
                stale_ = !resync(); // retried at the next read if it failed
                dirty_ = true;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                drained_at_ = std::chrono::steady_clock::now();
            }
            break; // EAGAIN: nothing more queued
        }
        auto remaining = static_cast<unsigned>(got);
        bool paths_changed = false;
        for (auto* msg = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(msg, remaining);
             msg = NLMSG_NEXT(msg, remaining)) {
            paths_changed = apply(msg) || paths_changed;
            dirty_ = true;
        }
        if (paths_changed) {
            // An address came or went, a link went up or down: a server that was silent from
            // the old network may answer from the new one, so none is skipped any longer.
            ServerHealth::instance().forget_silences(netns_);
        }
    }
    if (dirty_ && !listeners_.empty() && !report_) {
        schedule_report();
    }
}

bool InterfaceMonitor::apply(const nlmsghdr* msg) {
    switch (msg->nlmsg_type) {
    case RTM_NEWLINK: {
        auto [index, link] = read_link(msg);
        const auto known = links_.find(index);
        const bool up_changed =
            known == links_.end() || ((known->second.flags ^ link.flags) & IFF_UP) != 0;
        for (LocalAddress& address : addresses_) {
            if (address.interface_index == static_cast<unsigned>(index)) {
                apply_link(address, link);
            }
        }
        links_.insert_or_assign(index, std::move(link));
        return up_changed;
    }
    case RTM_DELLINK: {
        const int index = read_link(msg).first;
        links_.erase(index);
        std::erase_if(addresses_, [index](const LocalAddress& a) {
            return a.interface_index == static_cast<unsigned>(index);
        });
        return true;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
        auto entry = read_address(msg, links_);
        if (!entry) {
            break;
        }
        auto it = std::find_if(addresses_.begin(), addresses_.end(),
                               [&](const LocalAddress& a) { return same_address(a, *entry); });
        if (msg->nlmsg_type == RTM_DELADDR) {
            if (it != addresses_.end()) {
                addresses_.erase(it);
                return true;
            }
        } else if (it != addresses_.end()) {
            *it = std::move(*entry);
        } else {
            addresses_.push_back(std::move(*entry));
            return true;
        }
        break;
    }
    default:
        break;
    }
    return false;
}

void InterfaceMonitor::schedule_report() {
    // From the loop, never inside the call that read the notification (gather(), say): a
    // listener may destroy anything, this monitor's other users included.
    report_ = loop_.call_after(std::chrono::milliseconds(0), [this] { report(); });
}

void InterfaceMonitor::report() {
    const auto self = shared_from_this(); // a listener may drop the last other reference
    report_.reset();
    dirty_ = false;
    NetworkChange change = difference(reported_, addresses_);
    reported_ = addresses_;
    if (change.empty()) {
        return;
    }
    std::vector<std::uint64_t> ids;
    for (const auto& [id, listener] : listeners_) {
        ids.push_back(id);
    }
    for (std::uint64_t id : ids) {
        auto it = listeners_.find(id);
        if (it == listeners_.end()) {
            continue; // unsubscribed by an earlier listener
        }
        const auto listener = it->second; // survives its own unsubscription
        (void)contain([&] { (*listener)(change); });
    }
}

} // namespace jgather::detail
