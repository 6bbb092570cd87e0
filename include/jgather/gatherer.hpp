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

#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/loop.hpp>
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
    bool s5b = true;         ///< Gather XEP-0065/0260 SOCKS5 candidates.
    /** TCP port of the caller's SOCKS5 listener. Unset: the gatherer opens one (dual-stack,
     * ephemeral port) and hands it over with take_s5b_listener(). */
    std::optional<std::uint16_t> s5b_port;
    std::string jid = "user@example.org/jgather"; ///< Full JID written into S5B candidates.
    std::chrono::milliseconds deadline = kDefaultDeadline; ///< Overall deadline.
};

/** @brief A local or learned address that produced no candidate, and why. */
struct DroppedAddress {
    std::string address;   ///< The address (and port, where one was involved).
    std::string interface; ///< Its interface, if local.
    std::string reason;    ///< Why it was dropped, for a person.
};

/** @brief How one source ended. */
struct SourceReport {
    std::string name;                     ///< Source name.
    SourceState state = SourceState::Ok;  ///< How it ended.
    std::string error;                    ///< Why, when not ok.
    std::chrono::microseconds elapsed{0}; ///< From the start of the gathering to its end.
};

/** @brief A UDP socket bound for an ICE base, owned by the caller once taken. */
struct OwnedSocket {
    unsigned component = 1;   ///< ICE component.
    TransportAddress address; ///< Bound address.
    std::string interface;    ///< Interface name.
    int fd = -1;              ///< The socket; the caller closes it.
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
    /** Observations for a person: disagreements within a family (VPN egress, a server on the
     * LAN), a family NATed and the other not, carrier-grade NAT (RFC 6598 100.64.0.0/10),
     * private external addresses. */
    std::vector<std::string> notes;
};

/** "unknown", "none" or "nat". */
JGATHER_EXPORT std::string_view to_string(NetworkVerdict::Nat nat) noexcept;

/** @brief Everything one gathering found. */
struct GatherResult {
    std::string ufrag; ///< ICE username fragment, RFC 8445 §5.3 (8 ice-chars, 48 random bits).
    std::string pwd;   ///< ICE password, RFC 8445 §5.3 (24 ice-chars, 144 random bits).
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
};

/**
 * @brief Runs one gathering on the caller's loop.
 *
 * Usage: construct, add sources, set callbacks, call gather(), run the loop until on_complete.
 * Host candidates are emitted on the first loop iteration after gather(); other candidates as
 * their findings arrive. Every callback runs on the loop; none is called from gather() itself.
 * The gatherer may be destroyed at any time, including from inside its own callbacks; sources
 * still running are stopped and sockets not taken are closed.
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

    /** Called for each new candidate (trickle), in the order they appear. */
    std::function<void(const Candidate&)> on_candidate;
    /** Called once per source when it ends, including the built-in host source. */
    std::function<void(const SourceReport&)> on_source_done;
    /** Called once when the gathering completes (all sources ended, deadline, or cancel). */
    std::function<void(const GatherResult&)> on_complete;

    /**
     * Starts gathering. Enumerates interfaces and binds sockets now; emits from the loop.
     * Fails when called twice, when options are invalid, or when no ICE or S5B is requested.
     */
    Result<void> gather();
    /** Cancels: running sources are stopped and reported cancelled, then on_complete runs. */
    void cancel();

    /** True once completed. */
    [[nodiscard]] bool complete() const;
    /** What was found so far (all of it, once complete). */
    [[nodiscard]] const GatherResult& result() const;
    /** The ICE bases with their sockets (sockets still owned by the gatherer). */
    [[nodiscard]] std::span<const Base> bases() const;

    /** Takes ownership of the ICE sockets; only after completion. */
    std::vector<OwnedSocket> take_sockets();
    /** Takes ownership of the SOCKS5 listener the gatherer opened (-1 if none). */
    int take_s5b_listener();

private:
    class Private;
    std::unique_ptr<Private> d_;
};

} // namespace jgather
