/**
 * @file source.hpp
 * @brief The pluggable Source interface and the sink a running source reports to.
 *
 * A source is started once per gathering with read access to the gathering's bases. It reports
 * findings — candidates it made itself, or external addresses it learned — and finishes exactly
 * once with a status. The gatherer alone turns findings into candidates (priorities, foundations,
 * ids, redundancy). A source can be written outside the library with this header alone; see
 * examples/custom-source.cpp.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <jgather/address.hpp>
#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/loop.hpp>
#include <jgather/result.hpp>

namespace jgather {

/** @brief What kind of interface an address is on, as classified at run time. */
enum class InterfaceKind : std::uint8_t {
    Physical,      ///< Ethernet, Wi-Fi or anything not recognised as below.
    Loopback,      ///< lo.
    VirtualBridge, ///< Container/VM bridges: docker*, br-*, veth*, virbr*.
    Vpn,           ///< Tunnels: tun*, tap*, wg*, ppp*, ipsec*, or a tunnel link kind.
};

/** "physical", "loopback", "virtual-bridge" or "vpn". */
JGATHER_EXPORT std::string_view to_string(InterfaceKind kind) noexcept;

/** @brief One address of a local interface, as enumerated. */
struct LocalAddress {
    IpAddress ip;                                 ///< The address.
    unsigned prefix_length = 0;                   ///< Its prefix length.
    std::string interface;                        ///< Interface name, e.g. "eth0".
    unsigned interface_index = 0;                 ///< Kernel interface index (XEP-0176 `network`).
    InterfaceKind kind = InterfaceKind::Physical; ///< Classification of the interface.
    std::string link_kind;   ///< The kernel's link kind ("veth", "bridge", "tun", ...), if any.
    bool up = true;          ///< Interface administratively up.
    bool tentative = false;  ///< IPv6 duplicate address detection not finished (RFC 4862).
    bool deprecated = false; ///< IPv6 preferred lifetime expired (RFC 4862 §5.5.4).
    bool temporary = false;  ///< IPv6 temporary address (RFC 8981).
    bool dad_failed = false; ///< IPv6 duplicate address detection failed.

    /** Member-wise equality. */
    bool operator==(const LocalAddress&) const = default;
};

/**
 * @brief An ICE agent's own numbers for a candidate it made (libnice's, say).
 *
 * Kept as the agent made them: the agent pairs its local candidates with the priorities it
 * computed itself, so the peer must get the same ones for both ends to order the pairs alike
 * (RFC 8445 §6.1.2.3).
 */
struct AgentNumbers {
    std::uint32_t priority = 0; ///< The agent's RFC 8445 §5.1.2 priority.
    std::string foundation;     ///< The agent's RFC 8445 §5.1.1.3 foundation.
    /** Equal when both members are. */
    bool operator==(const AgentNumbers&) const = default;
};

/**
 * @brief A local address with a UDP port for one ICE component: what every candidate of that
 * component on that address is based on (RFC 8445 §5.1.1.1).
 *
 * Who owns the socket behind it depends on the BaseProvider: jgather's own sockets by default
 * (handed to the caller by Gatherer::take_sockets()), or an ICE agent's. Sources never touch
 * the socket: they send with SourceSink::send_datagram() and receive through
 * SourceSink::receive_datagrams(), whichever provider it is.
 */
struct Base {
    LocalAddress local;                 ///< The address and its interface.
    unsigned component = 1;             ///< ICE component this socket serves.
    std::uint16_t port = 0;             ///< The bound port.
    std::uint16_t local_preference = 0; ///< RFC 8445 §5.1.2.1 local preference of this address.
    /** Set when an ICE agent owns the socket and made the host candidate: its priority and
     * foundation, which the host candidate keeps. */
    std::optional<AgentNumbers> agent;
    /** With #agent: the local preference of a srflx guessed on this base from an external
     * address (Server IP Check, configuration). The agent chooses it so that such a guess ranks
     * below every srflx the agent verifies itself while keeping the type preference of srflx
     * (RFC 8445 §5.1.2.2: one type preference per type). */
    std::uint16_t guessed_local_preference = 0;

    /** The bound transport address. */
    [[nodiscard]] TransportAddress address() const { return {local.ip, port}; }
};

/** @brief A local or learned address that produced no candidate, and why. */
struct DroppedAddress {
    std::string address;   ///< The address (and port, where one was involved).
    std::string interface; ///< Its interface, if local.
    std::string reason;    ///< Why it was dropped, for a person.
};

/** @brief A datagram that arrived on a base's socket. */
struct Datagram {
    std::size_t base_index = 0;         ///< Index into SourceSink::bases() of the base.
    TransportAddress from;              ///< Who sent it.
    std::span<const std::uint8_t> data; ///< Its bytes; valid during the handler call only.
};

/**
 * Offered every datagram that arrives on a base while the source runs; returns true when the
 * datagram is the source's (a STUN answer to its transaction, say), so it is offered to nobody
 * else. Datagrams no source claims are kept for the caller (OwnedSocket::unclaimed).
 */
using DatagramHandler = std::function<bool(const Datagram&)>;

/**
 * @brief An external address a source learned: how the world sees us.
 */
struct ExternalAddress {
    IpAddress ip; ///< The external IP.
    /** A port the source saw, if any. For SIC it is the c2s TCP source port (a hint whether the
     * NAT preserves ports, never a UDP mapping); for STUN the UDP mapping of the base. */
    std::optional<std::uint16_t> observed_port;
    /** A port forwarded to this host by configuration; used for S5B assisted candidates. */
    std::optional<std::uint16_t> forwarded_port;
    Origin origin; ///< Who said so.
    /** The source reported verified ICE candidates for this finding itself (STUN): the gatherer
     * derives only the S5B assisted candidate from it, no guessed srflx. */
    bool ice_candidates_reported = false;
};

/**
 * @brief A SOCKS5 proxy a source found (XEP-0065 §4: a streamhost of the server's proxy).
 *
 * The gatherer makes a XEP-0260 `proxy` candidate of it when SOCKS5 is gathered (the
 * streamhost's JID is the candidate's, so the peer knows whom to ask for activation).
 */
struct ProxyFinding {
    std::string jid;          ///< The proxy's JID, as its streamhost gave it.
    TransportAddress address; ///< Where it listens (a literal IP: resolve host names first).
    Origin origin;            ///< Who said so.
};

/** @brief How a source ended. */
enum class SourceState : std::uint8_t {
    Ok,        ///< Finished normally.
    Failed,    ///< Failed; the message says why.
    TimedOut,  ///< The gathering's deadline passed first.
    Cancelled, ///< The gathering was cancelled.
};

/** "ok", "failed", "timed-out", "cancelled". */
JGATHER_EXPORT std::string_view to_string(SourceState state) noexcept;

/** @brief A source's final status. */
struct SourceStatus {
    /** Ok, with nothing to say. */
    SourceStatus() = default;
    /** @p state with @p error (why, when not ok) and @p detail. */
    SourceStatus(SourceState state, std::string error = {}, std::string detail = {})
        : state(state), error(std::move(error)), detail(std::move(detail)) {}

    SourceState state = SourceState::Ok; ///< How it ended.
    std::string error;                   ///< Why, when not Ok.
    /** What the source did, for a person, when it has something to say beyond its findings
     * (which server it chose and why, what it could not use). */
    std::string detail;

    /** Success. */
    static SourceStatus ok(std::string detail = {}) {
        return {SourceState::Ok, {}, std::move(detail)};
    }
    /** Failure with a message. */
    static SourceStatus failed(std::string why) {
        return {SourceState::Failed, std::move(why), {}};
    }
};

/**
 * @brief A candidate a source produced itself for one base (e.g. a STUN srflx, a TURN relay).
 *
 * The gatherer assigns priority, foundation, id and network, and applies redundancy rules.
 */
struct SourceCandidate {
    /** A srflx for base 0 at no address (members filled in afterwards). */
    SourceCandidate() = default;
    /** Every member in order; the agent's numbers and the related address are optional. */
    SourceCandidate(IceType type, TransportAddress address, std::size_t base_index,
                    std::string server, std::optional<AgentNumbers> agent = std::nullopt,
                    std::optional<TransportAddress> related = std::nullopt)
        : type(type), address(std::move(address)), base_index(base_index),
          server(std::move(server)), agent(std::move(agent)), related(std::move(related)) {}

    IceType type = IceType::Srflx; ///< Srflx or Relay.
    TransportAddress address;      ///< The candidate's transport address.
    std::size_t base_index = 0;    ///< Index into SourceSink::bases() of the base it belongs to.
    std::string server; ///< The server that taught it (foundation input, RFC 8445 §5.1.1.3).
    /** Set when an ICE agent made the candidate: its priority and foundation are kept. */
    std::optional<AgentNumbers> agent;
    /** The related address (XEP-0176 rel-addr) when it is not the base: for a relay, the
     * mapped address its allocation reported (RFC 8445 §5.1.1.2, RFC 8656 §7.3
     * XOR-MAPPED-ADDRESS). Unset: the base. */
    std::optional<TransportAddress> related;
};

/**
 * @brief What a running source reports to. Owned by the gatherer; valid from Source::start()
 * until the source finishes or is stopped. Calls after that are ignored.
 *
 * Every report is applied at once (the gatherer's rules) and nothing the application does runs
 * inside these calls: the gatherer's events reach the application later, from the loop. A
 * report that the rules reject (an external address that cannot be one, a candidate for a base
 * of another family) fails the source with the reason; the source is stopped, as on a deadline.
 */
class JGATHER_EXPORT SourceSink {
public:
    virtual ~SourceSink();

    /** The loop every callback of the gathering runs on. */
    [[nodiscard]] virtual EventLoop& loop() = 0;
    /** The ICE bases: one per usable local address per component. */
    [[nodiscard]] virtual std::span<const Base> bases() const = 0;
    /** Every enumerated local address, usable or not. */
    [[nodiscard]] virtual std::span<const LocalAddress> local_addresses() const = 0;
    /** The remaining time before the gathering's deadline. */
    [[nodiscard]] virtual std::chrono::milliseconds time_left() const = 0;
    /** The usable local addresses no base could be opened on, with the system's reason
     * (ProvidedBases::unbound): why a family may have no base. */
    [[nodiscard]] virtual std::span<const DroppedAddress> unbound() const { return {}; }

    /** Reports an external address; the gatherer derives candidates from it. */
    virtual void add_external_address(ExternalAddress address) = 0;
    /** Reports a candidate the source made for a base. */
    virtual void add_candidate(SourceCandidate candidate) = 0;
    /** Reports a SOCKS5 proxy; the gatherer derives a `proxy` candidate when it gathers S5B. */
    virtual void add_proxy(ProxyFinding proxy) = 0;
    /** Finishes the source. Exactly once; reports after it are ignored. */
    virtual void finish(SourceStatus status) = 0;

    /** Sends @p data from the socket of base @p base_index to @p to. */
    virtual Result<void> send_datagram(std::size_t base_index, std::span<const std::uint8_t> data,
                                       const TransportAddress& to) = 0;
    /** Offers the source every datagram that arrives on any base until it finishes or is
     * stopped (one handler per source; a second call replaces the first). */
    virtual void receive_datagrams(DatagramHandler handler) = 0;
};

/**
 * @brief A pluggable source of findings.
 *
 * Lifecycle: start() once; then the source reports through the sink and calls finish() exactly
 * once, or the gatherer calls stop() (deadline, cancel, destruction, a rejected report) after
 * which the source must not touch the sink and must release its loop handles. The gatherer
 * never calls stop() from inside one of the source's own sink calls. An exception thrown by
 * start() or stop() is caught: the source is reported failed with its message.
 */
class JGATHER_EXPORT Source {
public:
    virtual ~Source();

    /** Short name used as origin and in reports ("sic", "stun", ...). */
    [[nodiscard]] virtual std::string name() const = 0;
    /** Starts the source. It may report synchronously from here. */
    virtual void start(SourceSink& sink) = 0;
    /** Stops the source before it finished. The sink must not be used afterwards. */
    virtual void stop() = 0;
};

} // namespace jgather
