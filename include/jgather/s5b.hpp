/**
 * @file s5b.hpp
 * @brief SOCKS5 bytestreams on the loop: a candidate connector that never blocks, and the
 * server side of direct candidates.
 *
 * XEP-0065 §5.3.2 / XEP-0260 §2.3: the side that connects tries the peer's candidates and opens
 * a SOCKS5 (RFC 1928) CONNECT whose DST.ADDR is the 40-character SHA-1 hex of the session
 * (xep0260::dstaddr()) and whose DST.PORT is 0. Connector tries the candidates in priority order
 * with staggered parallel attempts, as Happy Eyeballs (RFC 8305 §5) does for addresses: a dead
 * candidate costs one stagger step, not TCP's SYN retries (about two minutes on Linux). Acceptor
 * is the other end, on the listener a Gatherer opened for its direct candidates.
 *
 * Both run on the caller's EventLoop, never block, and report from the loop (never from inside
 * a call into them), so a callback may destroy the object that called it.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <jgather/address.hpp>
#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/loop.hpp>
#include <jgather/result.hpp>

namespace jgather::s5b {

/** XEP-0065 §5.3.2: DST.ADDR is a SHA-1 in lower-case hex, always this long. */
inline constexpr std::size_t kDstAddrLength = 40;

/** @brief An open TCP socket, owned: destroying it closes the descriptor. Move-only. */
class JGATHER_EXPORT Socket {
public:
    /** No socket. */
    Socket() = default;
    /** Takes ownership of @p fd. */
    explicit Socket(int fd) noexcept : fd_(fd) {}
    ~Socket();
    /** Moves ownership. */
    Socket(Socket&& other) noexcept : fd_(other.release()) {}
    /** Moves ownership, closing what this held. */
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    /** The descriptor (-1 when empty); non-blocking, close-on-exec. */
    [[nodiscard]] int fd() const noexcept { return fd_; }
    /** True when it holds a descriptor. */
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /** Gives the descriptor up to the caller, who closes it. */
    int release() noexcept;

private:
    int fd_ = -1;
};

/** @brief How one attempt on one candidate ended. */
enum class AttemptResult : std::uint8_t {
    Connected, ///< Its SOCKS5 handshake completed first: the winner.
    Failed,    ///< Refused, unreachable, or the SOCKS5 server said no or spoke garbage.
    TimedOut,  ///< No connection and handshake within ConnectOptions::attempt_timeout.
    Abandoned, ///< Still pending when another attempt won (closed).
    NotTried,  ///< Another attempt won (or the deadline passed) before its turn.
};

/** "connected", "failed", "timed-out", "abandoned", "not-tried". */
JGATHER_EXPORT std::string_view to_string(AttemptResult result) noexcept;

/** @brief One candidate's attempt, for the report. */
struct Attempt {
    Candidate candidate;                            ///< The candidate as given.
    AttemptResult result = AttemptResult::NotTried; ///< How it ended.
    /** Why it failed, e.g. "connect: Connection refused", "SOCKS5 reply 0x05 (connection
     * refused)"; "" for the winner. */
    std::string reason;
    std::chrono::milliseconds started{0}; ///< When it started, since Connector::start().
    std::chrono::milliseconds elapsed{0}; ///< How long it ran.
};

/** @brief What a Connector finished with. */
struct ConnectReport {
    /** Index into attempts of the winner; nullopt when every candidate failed. */
    std::optional<std::size_t> winner;
    /** The winner's socket, its SOCKS5 handshake done: the next byte read is the peer's data
     * (after proxy activation, XEP-0065 §6.3.4, for a proxy). Empty without a winner. */
    Socket socket;
    /** Every candidate, in the order tried (priority, highest first). */
    std::vector<Attempt> attempts;
    /** Time from start() to the winner's completed handshake, or to giving up. */
    std::chrono::milliseconds elapsed{0};
    /** Without a winner: why, naming each candidate's failure. "" with a winner. */
    std::string error;
};

/**
 * Resolves a host name without blocking: calls @p done once, from the loop, with its addresses
 * (none, and why, when it does not resolve); destroying the returned handle cancels it and
 * @p done is not called. glib::make_resolver() gives one on GIO's GResolver.
 */
using Resolver = std::function<std::unique_ptr<LoopHandle>(
    const std::string& host,
    std::function<void(std::vector<IpAddress> addresses, std::string error)> done)>;

/** @brief Timing of the connector. Defaults follow RFC 8305 §5 and §8. */
struct ConnectOptions {
    /** The DST.ADDR: xep0260::dstaddr(sid, requester, target), 40 hex characters. */
    std::string dstaddr;
    /** Start the next candidate this long after the previous one while it is pending
     * (RFC 8305 §5 "Connection Attempt Delay": 250 ms recommended, 100 ms at least). A failed
     * attempt starts the next one at once. */
    std::chrono::milliseconds stagger{250};
    /** Give up on one candidate when its TCP connect and SOCKS5 handshake take longer. */
    std::chrono::milliseconds attempt_timeout{10000};
    /** Give up on all (the report lists what was pending as timed out, the rest not tried).
     * 0 = only per-attempt timeouts bound the total. */
    std::chrono::milliseconds deadline{0};
    /** Resolves candidates whose host is a name (a peer may pass on a proxy as prosody
     * announces it, by name); its addresses are dialled one after the other within the
     * attempt's timeout. Unset: such a candidate fails with that reason. */
    Resolver resolve;
};

/**
 * @brief Connects to the best reachable of a peer's SOCKS5 candidates without blocking.
 *
 * Candidates are tried in descending priority (XEP-0260 §2.4; equal priorities keep their
 * order). Each attempt is a non-blocking TCP connect, then the SOCKS5 greeting (no
 * authentication, RFC 1928 §3) and CONNECT to DST.ADDR:0 (XEP-0065 §5.3.2), each read exactly
 * as long as the reply so that no data after the handshake is consumed. The first completed
 * handshake wins and every other attempt is closed. A candidate whose host is a name is
 * resolved with ConnectOptions::resolve, or fails with that reason when none is given.
 */
class JGATHER_EXPORT Connector {
public:
    /** A connector on @p loop, which must outlive it. */
    Connector(EventLoop& loop, std::vector<Candidate> candidates, ConnectOptions options);
    /** Closes every pending attempt; on_done is not called afterwards. */
    ~Connector();
    Connector(const Connector&) = delete;
    Connector& operator=(const Connector&) = delete;

    /** Starts the attempts. Fails (and nothing starts) on a DST.ADDR that is not 40 characters,
     * no SOCKS5 candidate, zero stagger or timeout, or a second start(). */
    Result<void> start();
    /**
     * Ends now without a winner, e.g. because the peer has connected to one of our candidates
     * (XEP-0260 §2.4) and waiting for these attempts to time out would only delay the session:
     * pending attempts are closed and reported Abandoned with @p reason, those not started
     * NotTried; on_done follows from the loop. Nothing happens before start() or after the end.
     */
    void stop(const std::string& reason);

    /** Called once, from the loop, with the winner or every failure; may destroy the
     * connector. */
    std::function<void(ConnectReport)> on_done;

private:
    class Private;
    std::unique_ptr<Private> d_;
};

/** @brief A stream an Acceptor handed over, its SOCKS5 handshake answered. */
struct AcceptedStream {
    std::string dstaddr;   ///< The DST.ADDR the peer asked for (one that was expected).
    TransportAddress peer; ///< Where the peer connected from.
    Socket socket;         ///< The stream; the next byte read is the peer's data.
};

/** @brief A connection the Acceptor closed without handing it over. */
struct RejectedConnection {
    TransportAddress peer; ///< Where it came from.
    /** Why, e.g. "DST.ADDR 9a3f… is not expected", "no SOCKS5 greeting within 10000 ms". */
    std::string reason;
};

/** @brief Limits of the Acceptor. */
struct AcceptOptions {
    /** Close a connection whose greeting and CONNECT take longer than this. */
    std::chrono::milliseconds handshake_timeout{10000};
    /** Most connections in their handshake at once; more are closed at once (a listener
     * anybody can reach must not let them pile up). */
    std::size_t max_pending = 64;
};

/**
 * @brief The SOCKS5 server of direct and assisted candidates (XEP-0065 §5.3.2, RFC 1928).
 *
 * Accepts on a listening socket (e.g. Gatherer::take_s5b_listener()), answers the greeting with
 * "no authentication", and the CONNECT with success when its DST.ADDR is one of the expected
 * ones (then hands the socket over) or with "connection not allowed by ruleset" (RFC 1928 §6,
 * 0x02) when it is not. Only CONNECT with a domain-name DST.ADDR is accepted (XEP-0065 §5.3.2).
 */
class JGATHER_EXPORT Acceptor {
public:
    /** An acceptor on @p loop serving @p listener, which it owns from now on. */
    Acceptor(EventLoop& loop, Socket listener, AcceptOptions options = {});
    /** Closes the listener and every connection in its handshake. */
    ~Acceptor();
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    /** Starts accepting (and makes the listener non-blocking). Fails without a listening
     * socket. */
    Result<void> start();
    /** Accepts CONNECTs to @p dstaddr (40 characters, compared case-insensitively) until
     * forget(); fails on another length. */
    Result<void> expect(std::string dstaddr);
    /** Stops accepting CONNECTs to @p dstaddr. */
    void forget(const std::string& dstaddr);
    /** The listener's port. */
    [[nodiscard]] std::uint16_t port() const;

    /** Each stream whose handshake completed, from the loop; may destroy the acceptor. */
    std::function<void(AcceptedStream)> on_stream;
    /** Each connection closed in its handshake, from the loop (optional). */
    std::function<void(const RejectedConnection&)> on_rejected;

private:
    class Private;
    std::unique_ptr<Private> d_;
};

} // namespace jgather::s5b
