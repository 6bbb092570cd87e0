#include "server_health.hpp"
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sys/random.h>
#include <sys/socket.h>
#include <tuple>

#include "../util/netns.hpp"
#include "../util/sockaddr.hpp"
#include "../util/unique_fd.hpp"
#include "stun_message.hpp"

namespace jgather::detail {
namespace {

using Clock = std::chrono::steady_clock;
using Key = std::tuple<std::uint64_t, std::uint64_t, std::string>; // namespace, server

Key key_of(const ServerHealth::Namespace& ns, const TransportAddress& server) {
    return {ns.first, ns.second, server.to_string()};
}

std::chrono::milliseconds whole_ms(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// RFC 8489 §5/§6: a Binding request without attributes; any answer says the server is there.
struct ProbeRequest {
    std::array<std::uint8_t, stun::kHeaderSize> bytes{};
    ProbeRequest() {
        bytes[1] = 0x01; // Binding request (0x0001), length 0
        const std::uint32_t cookie = htonl(stun::kMagicCookie);
        std::memcpy(bytes.data() + 4, &cookie, sizeof cookie);
        std::array<std::uint8_t, 12> id{};
        if (::getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size())) {
            id.fill(0x5a); // an answer to it still means the server is there
        }
        std::memcpy(bytes.data() + 8, id.data(), id.size());
    }
};

} // namespace

class ServerHealth::Private {
public:
    struct Probe {
        UniqueFd fd;
        ProbeRequest request;
        std::unique_ptr<LoopHandle> watch;
        std::unique_ptr<LoopHandle> timer;
    };
    struct Entry {
        Clock::time_point since;
        Clock::time_point until;
        Clock::time_point last_probe{};
        std::unique_ptr<Probe> probe;
    };

    // Drops what is past its memory. Called with the lock held.
    void prune(Clock::time_point now) {
        std::erase_if(entries, [now](const auto& item) { return item.second.until <= now; });
    }

    // A readable probe socket: an answer from the server forgets its silence.
    void on_probe_readable(const Key& key, const TransportAddress& server) {
        const std::lock_guard lock(mutex);
        auto it = entries.find(key);
        if (it == entries.end() || !it->second.probe) {
            return;
        }
        Probe& probe = *it->second.probe;
        std::array<std::uint8_t, 1500> buffer;
        for (;;) {
            sockaddr_storage from{};
            socklen_t from_length = sizeof from;
            const ssize_t got =
                ::recvfrom(probe.fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &from_length);
            if (got < 0) {
                return; // EAGAIN, or an ICMP error reported on the socket: still silent
            }
            const std::span<const std::uint8_t> data(buffer.data(), static_cast<std::size_t>(got));
            const auto sender = from_sockaddr(from);
            if (sender && *sender == server && stun::is_binding_response(data) &&
                std::memcmp(data.data() + 8, probe.request.bytes.data() + 8, 12) == 0) {
                entries.erase(it); // destroys this watch from inside its callback: allowed
                return;
            }
        }
    }

    // RFC 6298 §2 estimator of one server's RTT.
    struct Estimate {
        double srtt_ms = 0;
        double rttvar_ms = 0;
        Clock::time_point last;
    };

    std::mutex mutex;
    std::map<Key, Entry> entries;
    std::map<Key, Estimate> estimates;
};

ServerHealth& ServerHealth::instance() {
    static ServerHealth health;
    return health;
}

ServerHealth::Private& ServerHealth::d() {
    // Never destroyed: probes may hold loop handles, which must not be released at exit after
    // the loops they belong to.
    static auto* d = new Private();
    return *d;
}

std::optional<Silence> ServerHealth::silent(const TransportAddress& server) {
    return silent(current_netns(), server);
}

std::optional<Silence> ServerHealth::silent(const Namespace& ns, const TransportAddress& server) {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    const auto now = Clock::now();
    p.prune(now);
    auto it = p.entries.find(key_of(ns, server));
    if (it == p.entries.end()) {
        return std::nullopt;
    }
    return Silence{whole_ms(now - it->second.since), whole_ms(it->second.until - now)};
}

void ServerHealth::timed_out(const Namespace& ns, const TransportAddress& server,
                             std::chrono::milliseconds memory) {
    if (memory.count() <= 0) {
        return;
    }
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    const auto now = Clock::now();
    Private::Entry& entry = p.entries[key_of(ns, server)];
    if (entry.until <= now) {
        entry.since = now;
    }
    entry.until = now + memory;
}

void ServerHealth::answered(const Namespace& ns, const TransportAddress& server) {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    if (!p.entries.empty()) {
        p.entries.erase(key_of(ns, server));
    }
}

void ServerHealth::probe(EventLoop& loop, const TransportAddress& server,
                         std::chrono::milliseconds interval, std::chrono::milliseconds timeout) {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    const Key key = key_of(current_netns(), server);
    auto it = p.entries.find(key);
    const auto now = Clock::now();
    if (it == p.entries.end() || it->second.probe || now - it->second.last_probe < interval) {
        return;
    }
    Private::Entry& entry = it->second;
    entry.last_probe = now;
    auto probe = std::make_unique<Private::Probe>();
    probe->fd.reset(::socket(server.ip.family() == Family::IPv4 ? AF_INET : AF_INET6,
                             SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe->fd.valid()) {
        return; // out of descriptors, say: the silence stands until it is forgotten
    }
    sockaddr_storage to{};
    const socklen_t length = to_sockaddr(server, to);
    if (::sendto(probe->fd.get(), probe->request.bytes.data(), probe->request.bytes.size(), 0,
                 reinterpret_cast<const sockaddr*>(&to), length) < 0) {
        return;
    }
    probe->watch = loop.watch_readable(probe->fd.get(),
                                       [&p, key, server] { p.on_probe_readable(key, server); });
    probe->timer = loop.call_after(timeout, [&p, key] {
        const std::lock_guard lock(p.mutex);
        if (auto found = p.entries.find(key); found != p.entries.end()) {
            found->second.probe.reset(); // destroys this timer from inside its callback: allowed
        }
    });
    entry.probe = std::move(probe);
}

// RFC 8489 §6.2.1: an RTO cached per server is discarded after 10 minutes without a transaction.
constexpr auto kRtoStale = std::chrono::minutes(10);

std::optional<std::chrono::milliseconds> ServerHealth::rto(const Namespace& ns,
                                                           const TransportAddress& server) {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    auto it = p.estimates.find(key_of(ns, server));
    if (it == p.estimates.end()) {
        return std::nullopt;
    }
    if (Clock::now() - it->second.last > kRtoStale) {
        p.estimates.erase(it);
        return std::nullopt;
    }
    // RFC 6298 §2.3: RTO = SRTT + max(G, K·RTTVAR), K = 4; G (the clock granularity) 1 ms.
    const double rto = it->second.srtt_ms + std::max(1.0, 4 * it->second.rttvar_ms);
    return std::chrono::milliseconds(static_cast<long long>(rto + 0.999));
}

void ServerHealth::measured(const Namespace& ns, const TransportAddress& server,
                            std::chrono::microseconds rtt) {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    const double r = static_cast<double>(rtt.count()) / 1000.0;
    const auto now = Clock::now();
    auto [it, first] = p.estimates.try_emplace(key_of(ns, server));
    Private::Estimate& e = it->second;
    if (first || now - e.last > kRtoStale) {
        e.srtt_ms = r; // RFC 6298 §2.2: the first measurement
        e.rttvar_ms = r / 2;
    } else {
        // RFC 6298 §2.3 with alpha = 1/8, beta = 1/4.
        e.rttvar_ms = 0.75 * e.rttvar_ms + 0.25 * std::abs(e.srtt_ms - r);
        e.srtt_ms = 0.875 * e.srtt_ms + 0.125 * r;
    }
    e.last = now;
}

void ServerHealth::forget_silences(const Namespace& ns) {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    std::erase_if(p.entries, [&ns](const auto& item) {
        return std::get<0>(item.first) == ns.first && std::get<1>(item.first) == ns.second;
    });
}

void ServerHealth::clear() {
    Private& p = d();
    const std::lock_guard lock(p.mutex);
    p.entries.clear();
    p.estimates.clear();
}

} // namespace jgather::detail
