// Health memory: STUN servers that did not answer, remembered for a while so that later
// gatherings do not wait for them again, and probed in the background so that one that comes
// back is used again as soon as it answers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <jgather/address.hpp>
#include <jgather/loop.hpp>

namespace jgather::detail {

/** @brief How a remembered server stands. */
struct Silence {
    std::chrono::milliseconds ago;  ///< Since it was given up.
    std::chrono::milliseconds left; ///< Until it is forgotten (and waited for again).
};

/**
 * @brief The process's memory of silent servers, per network namespace (what one namespace
 * cannot reach, another may). Locked: gatherings on loops of other threads share it.
 *
 * Kept across gatherings, loops and sources: a desktop client gathers one call at a time, and
 * the server that timed out for the last call is the one to skip. Nothing in it runs unless a
 * probe is out; a probe owns its socket and loop handles and ends within its timeout.
 */
class ServerHealth {
public:
    /** A network namespace (current_netns()): a source reads it once, not per call. */
    using Namespace = std::pair<std::uint64_t, std::uint64_t>;

    /** The one memory. */
    static ServerHealth& instance();

    /** Set while @p server is remembered silent in namespace @p ns. */
    std::optional<Silence> silent(const Namespace& ns, const TransportAddress& server);
    /** silent() in the calling thread's namespace. */
    std::optional<Silence> silent(const TransportAddress& server);
    /** @p server did not answer: remember it for @p memory (0: not at all). */
    void timed_out(const Namespace& ns, const TransportAddress& server,
                   std::chrono::milliseconds memory);
    /** @p server answered (anything): forget its silence. */
    void answered(const Namespace& ns, const TransportAddress& server);
    /** Probes @p server from a socket of its own on @p loop (one Binding request; any answer
     * from it forgets its silence), unless a probe of it is out or one started within
     * @p interval. The probe ends after @p timeout. */
    void probe(EventLoop& loop, const TransportAddress& server, std::chrono::milliseconds interval,
               std::chrono::milliseconds timeout);
    /** The retransmission timeout learned for @p server (RFC 8489 §6.2.1: cached per server,
     * stale after 10 minutes without a transaction), if any. */
    std::optional<std::chrono::milliseconds> rto(const Namespace& ns,
                                                 const TransportAddress& server);
    /** An RTT measured to @p server on a request sent once (Karn: never a retransmitted
     * one); updates its RTO by RFC 6298 §2. */
    void measured(const Namespace& ns, const TransportAddress& server,
                  std::chrono::microseconds rtt);
    /** Forgets every silence in namespace @p ns: the network changed (the interface monitor
     * calls it), and a server silent from the old one may answer now. */
    void forget_silences(const Namespace& ns);
    /** Forgets everything (tests). */
    void clear();

private:
    ServerHealth() = default;
    class Private;
    Private& d();
};

} // namespace jgather::detail
