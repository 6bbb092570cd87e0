/**
 * @file candidate.hpp
 * @brief Candidates for ICE-UDP (XEP-0176) and SOCKS5 bytestreams (XEP-0065 / XEP-0260).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <jgather/address.hpp>
#include <jgather/export.hpp>

namespace jgather {

/** @brief Which Jingle transport a candidate belongs to. */
enum class TransportKind : std::uint8_t {
    IceUdp, ///< XEP-0176 ICE-UDP.
    Socks5, ///< XEP-0065 / XEP-0260 SOCKS5 bytestreams.
};

/** @brief ICE candidate type, RFC 8445 §5.1.1; XEP-0176 `type`. */
enum class IceType : std::uint8_t {
    Host,  ///< An address of a local interface.
    Prflx, ///< Peer reflexive.
    Srflx, ///< Server reflexive: the address a NAT maps a base to.
    Relay, ///< A TURN relay address.
};

/** @brief SOCKS5 candidate type, XEP-0260 §2.2 `type`. */
enum class S5bType : std::uint8_t {
    Direct,   ///< A local listener address.
    Assisted, ///< A listener reached through NAT assistance (STUN, SIC, port mapping,
              ///< configuration).
    Tunnel,   ///< A tunnel (e.g. Teredo) address.
    Proxy,    ///< A XEP-0065 proxy.
};

/** XEP-0176 / RFC 8445 type name: "host", "prflx", "srflx", "relay". */
JGATHER_EXPORT std::string_view to_string(IceType type) noexcept;
/** XEP-0260 type name: "direct", "assisted", "tunnel", "proxy". */
JGATHER_EXPORT std::string_view to_string(S5bType type) noexcept;
/** "ice-udp" or "s5b". */
JGATHER_EXPORT std::string_view to_string(TransportKind transport) noexcept;
/** Parses an XEP-0176 type name. */
JGATHER_EXPORT std::optional<IceType> parse_ice_type(std::string_view name) noexcept;
/** Parses an XEP-0260 type name. */
JGATHER_EXPORT std::optional<S5bType> parse_s5b_type(std::string_view name) noexcept;

/**
 * @brief Where a finding came from: the source's name and what it asked.
 *
 * Examples: {"host", "eth0"}, {"config", "--external-ip"}, {"sic", "example.org"},
 * {"stun", "198.51.100.1:3478"}. Not sent on the wire.
 */
struct Origin {
    std::string source; ///< Name of the source ("host", "config", "sic", "stun", ...).
    std::string detail; ///< What the source asked: an interface, a server, a setting.

    /** "source" or "source (detail)". */
    [[nodiscard]] std::string to_string() const {
        return detail.empty() ? source : source + " (" + detail + ")";
    }
    /** Equal when both members are. */
    bool operator==(const Origin&) const = default;
};

/** @brief Fields only ICE-UDP candidates have (XEP-0176 §5.3). */
struct IceFields {
    unsigned component = 1;       ///< RFC 8445 component id, 1-256 (1 = RTP).
    std::string foundation;       ///< RFC 8445 §5.1.1.3 foundation, 1-32 ice-chars.
    unsigned generation = 0;      ///< Starts at 0; increases on ICE restart.
    std::string id;               ///< Unique per session.
    unsigned network = 0;         ///< Index of the network interface the candidate is on.
    IceType type = IceType::Host; ///< Candidate type.
    /** Related address (`rel-addr`/`rel-port`): the base of a srflx, the mapped address of a
     * relay. Never set on host candidates. */
    std::optional<TransportAddress> related;

    /** Member-wise equality. */
    bool operator==(const IceFields&) const = default;
};

/** @brief Fields only SOCKS5 candidates have (XEP-0260 §2.2, XEP-0065 streamhost). */
struct S5bFields {
    std::string cid;                ///< XEP-0260 candidate id, unique per session.
    std::string jid;                ///< Offering entity's full JID, or the proxy's JID.
    S5bType type = S5bType::Direct; ///< Candidate type.

    /** Member-wise equality. */
    bool operator==(const S5bFields&) const = default;
};

/**
 * @brief What the XEP readers accept of a peer's addresses beyond the rules every reader
 * applies (unspecified, broadcast, multicast and reserved addresses are always refused: no peer
 * can be reached there).
 */
struct ReadOptions {
    /** Accept loopback addresses (127.0.0.0/8, ::1): only a peer on this very host has them,
     * so they are refused unless the application tests on one machine. */
    bool accept_loopback = false;
    /** Accept link-local addresses (169.254/16, fe80::/10): reachable on a shared link only;
     * libnice and jgather (HostOptions::include_link_local) may offer them, so accepted. */
    bool accept_link_local = true;
};

/**
 * @brief One candidate of either transport.
 *
 * `host` is a literal IP in canonical form for every candidate jgather gathers and every ICE
 * candidate it reads; a peer's XEP-0065/0260 candidate may carry a host name, which is kept as
 * text and never resolved. The transport's own fields are reached through ice() or s5b(), which
 * give nullptr on the other kind: an ICE field cannot be read off a SOCKS5 candidate by mistake.
 */
struct JGATHER_EXPORT Candidate {
    std::string host;           ///< Literal IP (or, for a peer's S5B, a host name).
    std::uint16_t port = 0;     ///< Port, 1-65535.
    std::uint32_t priority = 0; ///< RFC 8445 §5.1.2 or XEP-0260 §2.2 priority.
    /** The fields of the candidate's transport: IceFields (XEP-0176, the default) or
     * S5bFields (XEP-0065/0260). Which one it holds is the candidate's transport(). */
    std::variant<IceFields, S5bFields> fields;

    // Provenance, never on the wire.
    Origin origin;         ///< The finding that produced this candidate.
    std::string interface; ///< Name of the local interface of the base ("" when unknown).

    /** Which transport: the kind of fields it holds. */
    [[nodiscard]] TransportKind transport() const noexcept {
        return fields.index() == 0 ? TransportKind::IceUdp : TransportKind::Socks5;
    }
    /** The ICE fields; nullptr on a SOCKS5 candidate. */
    [[nodiscard]] IceFields* ice() noexcept { return std::get_if<IceFields>(&fields); }
    /** The ICE fields; nullptr on a SOCKS5 candidate. */
    [[nodiscard]] const IceFields* ice() const noexcept { return std::get_if<IceFields>(&fields); }
    /** The SOCKS5 fields; nullptr on an ICE candidate. */
    [[nodiscard]] S5bFields* s5b() noexcept { return std::get_if<S5bFields>(&fields); }
    /** The SOCKS5 fields; nullptr on an ICE candidate. */
    [[nodiscard]] const S5bFields* s5b() const noexcept { return std::get_if<S5bFields>(&fields); }

    /** The host as a literal IP, when it is one. */
    [[nodiscard]] std::optional<IpAddress> ip() const;
    /** Equality of the wire fields of the candidate's transport (provenance ignored). */
    [[nodiscard]] bool same_wire_fields(const Candidate& other) const;
};

} // namespace jgather
