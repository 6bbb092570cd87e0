/**
 * @file ice_servers.hpp
 * @brief STUN and TURN servers: configured by hand or announced by the XMPP server (XEP-0215
 *        External Service Discovery), and the directory interface that hands them out.
 *
 * The core holds no XMPP: a directory (jgather/sources/extdisco.hpp on gloox) implements
 * IceServerDirectory, and the consumers — the STUN source of the own-socket mode and the
 * NiceAgent adapter — take the interface.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <jgather/address.hpp>
#include <jgather/export.hpp>
#include <jgather/result.hpp>

namespace jgather {

/** @brief How a TURN client reaches its server (RFC 8656 §3.1: UDP or TCP; TLS is "turns"). */
enum class RelayTransport : std::uint8_t {
    Udp, ///< TURN over UDP.
    Tcp, ///< TURN over TCP (RFC 6062 framing; the relayed side stays UDP).
};

/** "udp" or "tcp". */
JGATHER_EXPORT std::string_view to_string(RelayTransport transport) noexcept;
/** "udp" or "tcp". */
JGATHER_EXPORT std::optional<RelayTransport> parse_relay_transport(std::string_view text) noexcept;

/** @brief A TURN server with long-term credentials (RFC 8489 §9.2). */
struct TurnServer {
    TransportAddress address;                       ///< Literal IP and port.
    RelayTransport transport = RelayTransport::Udp; ///< How to reach it.
    std::string username;                           ///< Long-term credential username.
    std::string password;                           ///< Its password (never printed).
    /** Who said so, e.g. "--turn" or "extdisco example.org" (reports, never the wire). */
    std::string origin;
    /** Equal when every member is. */
    bool operator==(const TurnServer&) const = default;
};

/** The default STUN and TURN port (RFC 8489 §18.1, RFC 8656 §17: 3478). */
inline constexpr std::uint16_t kDefaultStunPort = 3478;
/** The default port of STUN and TURN over TLS (RFC 8489 §18.1, RFC 8656 §17: 5349). */
inline constexpr std::uint16_t kDefaultStunsPort = 5349;

/**
 * A TURN server from "IP", "IP:PORT" or "[IPv6]:PORT" (port 3478 when absent) with @p transport
 * and credentials. An error names what is wrong: the address, an empty username or password,
 * or one longer than RFC 8489 §14.3 (USERNAME < 513 bytes) allows.
 */
JGATHER_EXPORT Result<TurnServer> make_turn_server(std::string_view address, std::string username,
                                                   std::string password,
                                                   RelayTransport transport = RelayTransport::Udp,
                                                   std::string origin = "configured");

/** @brief A service type of XEP-0215 §4 (the IANA STUN/TURN URI schemes). */
enum class ServiceType : std::uint8_t {
    Stun,  ///< "stun": RFC 7064.
    Stuns, ///< "stuns": STUN over TLS/DTLS.
    Turn,  ///< "turn": RFC 7065.
    Turns, ///< "turns": TURN over TLS/DTLS.
};

/** "stun", "stuns", "turn" or "turns". */
JGATHER_EXPORT std::string_view to_string(ServiceType type) noexcept;
/** The type named @p text, if it is one. */
JGATHER_EXPORT std::optional<ServiceType> parse_service_type(std::string_view text) noexcept;

/** @brief One service a server announced (XEP-0215 §4 `<service/>`), checked. */
struct ExternalService {
    ServiceType type = ServiceType::Stun; ///< `type`.
    std::string host;                     ///< `host` as announced (a name or a literal IP).
    std::uint16_t port = 0;               ///< `port`, or the type's default when absent.
    /** `transport`, or the type's default when absent: "udp" for stun/turn, "tcp" for the
     * TLS kinds. */
    std::string transport;
    std::string name;        ///< `name`, if any.
    std::string username;    ///< `username` (inline or from `<credentials/>`).
    std::string password;    ///< `password` (never printed).
    bool restricted = false; ///< `restricted`: credentials are needed and time-limited.
    /** `expires` (XEP-0082 DateTime), if any. */
    std::optional<std::chrono::system_clock::time_point> expires;
    /** The literal IPs the host stands for (itself, or what the name resolved to), each one a
     * target a client may be sent to. */
    std::vector<IpAddress> addresses;
    /** Empty when usable; otherwise why not, for a person: a bad attribute, credentials the
     * server did not give, a name that did not resolve, a kind nobody here speaks. */
    std::string problem;

    /** True when nothing is wrong with it. */
    [[nodiscard]] bool usable() const { return problem.empty(); }
};

/** @brief What one discovery found. */
struct ExternalServices {
    std::vector<ExternalService> services; ///< Every announced service, usable or not.
    std::string server;                    ///< The XMPP domain asked.
    std::string ns;                        ///< The namespace that answered.
    /** Why the discovery failed as a whole (no answer, an error reply), empty on success. */
    std::string error;
    /** How many round trips the answer took (1, 2 with the `:1` fallback or a credentials
     * request, 3 with both); 0 for an answer from the cache. */
    unsigned round_trips = 0;

    /** Every usable STUN server over UDP, as literal transport addresses, in the server's
     * order. TURN servers are not listed here (a TURN allocation reports the mapping too). */
    [[nodiscard]] JGATHER_EXPORT std::vector<TransportAddress> stun_servers() const;
    /** Every usable TURN server over UDP or TCP with its credentials, in the server's order,
     * origin "extdisco DOMAIN". */
    [[nodiscard]] JGATHER_EXPORT std::vector<TurnServer> turn_servers() const;
};

/**
 * @brief Where STUN and TURN servers come from: implemented by ExtdiscoService (gloox), used by
 * the STUN source and the NiceAgent adapter. All on the loop's thread.
 */
class JGATHER_EXPORT IceServerDirectory {
public:
    virtual ~IceServerDirectory();
    /** Called once with the services (or with ExternalServices::error set). */
    using Callback = std::function<void(const ExternalServices&)>;
    /** The answer that a request() right now would get at once, if a fresh one is cached. */
    [[nodiscard]] virtual std::optional<ExternalServices> cached() const = 0;
    /** Asks for the services; @p done runs once, from the loop (never inside request() nor on
     * a library's stack, so it may destroy the directory), unless cancel() with the returned id
     * comes first. Concurrent requests share one query; a fresh cached answer is delivered on
     * the next iteration. */
    virtual std::uint64_t request(Callback done) = 0;
    /** Forgets request @p id; its callback will not run. */
    virtual void cancel(std::uint64_t id) = 0;
};

} // namespace jgather
