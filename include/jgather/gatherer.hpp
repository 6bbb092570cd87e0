/**
 * @file gatherer.hpp
 * @brief The Gatherer: runs the sources of one gathering, combines their findings into
 *        candidates, trickles them, and completes.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <jgather/bases.hpp>
#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/loop.hpp>
#include <jgather/network.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

namespace jgather {

/** Default overall deadline of a gathering. */
inline constexpr std::chrono::milliseconds kDefaultDeadline{3000};

/** @brief Which local addresses become bases, and how their sockets are bound. */
struct HostOptions {
    bool ipv4 = true;                          ///< Use IPv4 addresses.
    bool ipv6 = true;                          ///< Use IPv6 addresses.
    bool include_loopback = false;             ///< Use 127.0.0.0/8 and ::1.
    bool include_link_local = false;           ///< Use 169.254/16 and fe80::/10.
    bool include_virtual_bridges = false;      ///< Use docker*, br-*, veth*, virbr* interfaces.
    bool include_vpn = true;                   ///< Use VPN/tunnel interfaces (at lower preference).
    std::vector<std::string> allow_interfaces; ///< If not empty, only these interface names.
    std::vector<std::string> deny_interfaces;  ///< Never these interface names.
    /** Last word on each address that passed the rules above: return false to drop it. */
    std::function<bool(const LocalAddress&)> filter;
    /** Use these addresses instead of enumerating the interfaces (the rules above still apply). */
    std::optional<std::vector<LocalAddress>> addresses;
    std::uint16_t port_min = 0; ///< Lowest UDP port for ICE sockets; 0 with port_max 0 = ephemeral.
    std::uint16_t port_max = 0; ///< Highest UDP port for ICE sockets.
};

/** @brief Options of one gathering. */
struct GatherOptions {
    HostOptions host;        ///< Local addresses and sockets.
    bool ice = true;         ///< Gather XEP-0176 ICE-UDP candidates.
    unsigned components = 1; ///< ICE components (1 = RTP only, 2 = RTP + RTCP), 1-256.
    /** Gather XEP-0065/0260 SOCKS5 candidates. Off by default: a call needs none, and a file
     * transfer asks for them (with a jid), so that no TCP listener is opened unasked. */
    bool s5b = false;
    /** TCP port of the caller's SOCKS5 listener. Unset: the gatherer opens one (dual-stack,
     * ephemeral port) and hands it over with take_s5b_listener(). */
    std::optional<std::uint16_t> s5b_port;
    /** Full JID written into S5B candidates (XEP-0065 §5.3.1: the offering entity); required
     * when s5b is on. */
    std::string jid;
    std::chrono::milliseconds deadline = kDefaultDeadline; ///< Overall deadline.
    /** ICE privacy mode: only relay candidates are advertised (host and srflx are dropped with
     * the reason, and so are guesses from external addresses, which are still learned for the
     * verdict). The NiceAgent adapter also sets libnice's `force-relay`, so the agent checks
     * from its relays only. SOCKS5 candidates are not affected. */
    bool relay_only = false;
    /** The ICE generation written into every ICE candidate (XEP-0176 `generation`, 0-255).
     * An ICE restart (RFC 8445 §9: after a network change, say) gathers again with the
     * previous generation + 1; the new gatherer draws fresh credentials. */
    unsigned generation = 0;
};

/** @brief How one source ended. */
struct SourceReport {
    std::string name;                     ///< Source name.
    SourceState state = SourceState::Ok;  ///< How it ended.
    std::string error;                    ///< Why, when not ok.
    std::chrono::microseconds elapsed{0}; ///< From the start of the gathering to its end.
    std::string detail; ///< SourceStatus::detail: what the source did, if it said.
};

/** @brief What the findings say about the network between this host and the Internet. */
struct NetworkVerdict {
    /** Whether a NAT was seen. */
    enum class Nat : std::uint8_t {
        Unknown, ///< Nothing external was learned.
        None,    ///< The outside sees a local address (STUN mapping equal to its base, or SIC).
        Nat,     ///< The outside sees another address.
    };
    Nat nat = Nat::Unknown;  ///< Overall: Nat if any family goes through a NAT.
    Nat ipv4 = Nat::Unknown; ///< What the IPv4 findings say.
    Nat ipv6 = Nat::Unknown; ///< What the IPv6 findings say (a NAT66, or none: usual for IPv6).
    /** From STUN mappings only: every mapping kept its base's port (true), one did not
     * (false), or no mapping through a NAT was seen (unset). */
    std::optional<bool> port_preserved;
    /** From STUN mappings only: two servers saw one base at different external ports or IPs
     * (true: RFC 4787 §4.1 endpoint-dependent mapping, a "symmetric" NAT, where srflx
     * candidates do not connect), every base looked the same to every server (false), or no
     * base was mapped by two servers (unset). */
    std::optional<bool> mapping_per_destination;
    /** Relay candidates were gathered (a TURN allocation succeeded). */
    bool relay = false;
    /** Observations for a person: disagreements within a family (VPN egress, a server on the
     * LAN), a family NATed and the other not, carrier-grade NAT (RFC 6598 100.64.0.0/10),
     * private external addresses. */
    std::vector<std::string> notes;
};

/** "unknown", "none" or "nat". */
JGATHER_EXPORT std::string_view to_string(NetworkVerdict::Nat nat) noexcept;

/** @brief Where a gathering is in its life. */
enum class GatherPhase : std::uint8_t {
    Idle,       ///< Constructed; gather() not called (or it failed).
    Running,    ///< Sources are running.
    Cancelling, ///< cancel() was called, or a callback threw; the end is being delivered.
    Complete,   ///< on_complete has been delivered (or is running): the result is final.
};

/** "idle", "running", "cancelling", "complete". */
JGATHER_EXPORT std::string_view to_string(GatherPhase phase) noexcept;

/** @brief Everything one gathering found. */
struct GatherResult {
    /** ICE username fragment, RFC 8445 §5.3: 8 ice-chars (48 random bits), or the agent's own
     * where an ICE agent owns the bases (ProvidedBases::credentials). */
    std::string ufrag;
    /** ICE password, RFC 8445 §5.3: 24 ice-chars (144 random bits), or the agent's own. */
    std::string pwd;
    std::vector<Candidate> ice; ///< ICE-UDP candidates, highest priority first.
    std::vector<Candidate> s5b; ///< SOCKS5 candidates, highest priority first.
    std::vector<ExternalAddress> external_addresses; ///< Every external address learned.
    std::vector<SourceReport> sources;               ///< Each source's end, in order of completion.
    std::vector<DroppedAddress> dropped; ///< Everything not turned into a candidate, with why.
    std::vector<LocalAddress> local_addresses; ///< Every enumerated local address.
    std::uint16_t s5b_port = 0;                ///< The SOCKS5 listener port advertised.
    std::chrono::microseconds elapsed{0};      ///< From gather() to completion.
    NetworkVerdict network; ///< What the findings say about the network (set on completion).
    bool complete = false;  ///< True once the gathering completed (all sources ended).
    /** Why the gathering ended before its sources did, when an application callback threw
     * ("on_candidate threw: ..."); empty otherwise (a cancel() is no error). */
    std::string error;
    /** Datagrams that arrived on the bases while sources read them and that no source claimed
     * (kept for the caller in OwnedSocket::unclaimed, up to kMaxUnclaimedDatagrams each). */
    std::size_t unclaimed_datagrams = 0;
};

/**
 * @brief Runs one gathering on the caller's loop.
 *
 * Usage: construct, add sources, set callbacks, call gather(), run the loop until on_complete.
 *
 * Events. Every callback runs from the loop, through one queue, in the order the gatherer
 * decided: host candidates first, then every other candidate as its finding arrives, each
 * source's end, and on_complete last; nothing but on_network_change is delivered after
 * on_complete, and none is
 * called from gather(), cancel() or a source's own call stack. So the gatherer may be destroyed,
 * and cancel() called, from any callback (and at any other time): sources still running are
 * stopped, sockets not taken are closed, and no event of that gatherer runs afterwards.
 *
 * Exceptions. An exception thrown by a callback is caught: the gathering ends at once (running
 * sources are reported cancelled with the message, GatherResult::error says which callback threw
 * what) and on_complete is still delivered. One thrown by HostOptions::filter fails gather().
 */
class JGATHER_EXPORT Gatherer {
public:
    /** A gatherer on @p loop, which must outlive it. */
    explicit Gatherer(EventLoop& loop, GatherOptions options = {});
    ~Gatherer();
    Gatherer(const Gatherer&) = delete;
    Gatherer& operator=(const Gatherer&) = delete;

    /** Adds a source; only before gather(). */
    void add_source(std::unique_ptr<Source> source);
    /** Replaces where the bases come from (default: make_socket_bases()); only before gather().
     */
    void set_base_provider(std::unique_ptr<BaseProvider> provider);

    /** Called for each new candidate (trickle), in the order they appear. */
    std::function<void(const Candidate&)> on_candidate;
    /**
     * Called when a candidate already delivered is superseded: a STUN-verified srflx replaces a
     * srflx guessed from an external address (Server IP Check, configuration) for the same base
     * and IP. The replacement was delivered by on_candidate just before; the superseded one is
     * no longer in result(). A peer that already has it can keep it (XEP-0176 cannot withdraw a
     * candidate): it points at the same NAT binding at worst a wrong port.
     */
    std::function<void(const Candidate& superseded, const Candidate& replacement)>
        on_candidate_superseded;
    /** Called once per source when it ends, including the built-in host source. */
    std::function<void(const SourceReport&)> on_source_done;
    /** Called once when the gathering completes (all sources ended, deadline, or cancel). */
    std::function<void(const GatherResult&)> on_complete;
    /**
     * Called when the local network changed in a way that matters to this gathering, while it
     * runs and after it completed (the one event that can follow on_complete), until the
     * gatherer is destroyed: NetworkChange::removed lists addresses of its bases that
     * disappeared or whose interface went down (their candidates are dead),
     * NetworkChange::changed those of its bases that changed otherwise (an IPv6 address
     * deprecated: it still works, RFC 4862 §5.5.4, but is no longer preferred), and
     * NetworkChange::added the addresses HostOptions would now use that have no base (new, or
     * newly usable). Set it before gather(); it is not called when HostOptions::addresses
     * replaces enumeration (the application knows its addresses).
     *
     * jgather does not add candidates to a gathering that ran: the answer to a change is an ICE
     * restart (RFC 8445 §9), a new Gatherer with GatherOptions::generation + 1, fresh
     * credentials, and the new candidates sent as a new generation (XEP-0176; after its
     * end-of-candidates a generation takes no more, RFC 8838 §13). An exception thrown here is
     * caught: it ends a running gathering like any callback's, and is dropped after completion.
     */
    std::function<void(const NetworkChange&)> on_network_change;

    /**
     * Starts gathering. Enumerates interfaces and binds sockets now; emits from the loop.
     * Fails when called twice, when options are invalid, or when no ICE or S5B is requested.
     */
    Result<void> gather();
    /** Cancels: running sources are stopped and reported cancelled, then on_complete runs. */
    void cancel();

    /** True from the delivery of on_complete on. */
    [[nodiscard]] bool complete() const;
    /** Where the gathering is. */
    [[nodiscard]] GatherPhase phase() const;
    /** What was found so far (all of it, once complete). */
    [[nodiscard]] const GatherResult& result() const;
    /** The ICE bases (from gather() on). */
    [[nodiscard]] std::span<const Base> bases() const;

    /** Takes ownership of the ICE sockets (own-socket provider only); only after completion. */
    std::vector<OwnedSocket> take_sockets();
    /** Takes ownership of the SOCKS5 listener the gatherer opened (-1 if none). */
    int take_s5b_listener();

private:
    class Private;
    std::unique_ptr<Private> d_;
};

} // namespace jgather
