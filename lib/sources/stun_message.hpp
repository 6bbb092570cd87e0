// STUN wire checks the STUN source makes itself, before a datagram reaches libnice's agent:
// libnice forgets a transaction as soon as one response validates, and checks FINGERPRINT only
// when it also demands one on every message (which ejabberd's answers lack), so the header,
// the sender and FINGERPRINT are checked here first. Then libnice reads the answer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <sys/socket.h>

#include <stun/stunagent.h>

#include <jgather/address.hpp>

namespace jgather::stun {

/** RFC 8489 §5: the fixed header. */
inline constexpr std::size_t kHeaderSize = 20;
/** RFC 8489 §5: the magic cookie, in every RFC 5389/8489 message. */
inline constexpr std::uint32_t kMagicCookie = 0x2112A442;
/** RFC 8489 §5: the transaction id with the cookie before it, as libnice stores it. */
inline constexpr std::size_t kCookieAndIdOffset = 4;
inline constexpr std::size_t kCookieAndIdSize = 16;

/** CRC-32 of ISO/IEC 13239 (the one RFC 8489 §14.7 names), the same as zlib's. */
std::uint32_t crc32(std::span<const std::uint8_t> data);

/** Whether @p datagram is one whole Binding success or error response (RFC 8489 §5 class bits,
 * §18.2 method): the magic cookie, a length equal to the rest of the datagram and a multiple
 * of 4, and attribute headers that stay inside it. */
bool is_binding_response(std::span<const std::uint8_t> datagram);

/** What a message's FINGERPRINT says (RFC 8489 §14.7). */
enum class Fingerprint : std::uint8_t {
    Absent,  ///< No FINGERPRINT attribute.
    Valid,   ///< The last attribute, with the right CRC-32.
    Invalid, ///< A wrong CRC-32, or attributes after it.
};

/** Checks the FINGERPRINT of @p message, which is_binding_response() accepted. */
Fingerprint check_fingerprint(std::span<const std::uint8_t> message);

/** RFC 8489 §5: a transaction id with the magic cookie before it (libnice's StunTransactionId). */
using TransactionId = std::array<std::uint8_t, kCookieAndIdSize>;

/** The longest Binding request we build: the header, no attributes (libnice's agent adds
 * none with the flags the STUN source uses). Checked when built. */
inline constexpr std::size_t kMaxRequestSize = 64;

/** @brief A Binding request ready to send. */
struct BindingRequest {
    std::array<std::uint8_t, kMaxRequestSize> bytes; ///< Not zeroed beyond #length.
    std::size_t length = 0;                          ///< 0: it could not be built.
    TransactionId id{};                              ///< Its cookie and transaction id.
};

/**
 * Builds a Binding request with libnice's STUN code (a fresh random transaction id).
 *
 * One StunAgent per thread serves every STUN source on it (shared state, not 12.8 KB per
 * gathering): it holds a transaction only for the instant of a call, so no gathering's
 * transactions mix with another's and STUN_AGENT_MAX_SAVED_IDS never limits how many are
 * out; each source matches answers to its own transactions (id, base, server) itself.
 */
BindingRequest make_binding_request();

/** @brief What a Binding response to one of our transactions says. */
struct BindingAnswer {
    enum class Kind : std::uint8_t {
        Ignored,   ///< Not an intact answer (bad FINGERPRINT, rejected by libnice): keep waiting.
        Mapped,    ///< Success: `address` is the mapping.
        Alternate, ///< 300 Try Alternate: `address` is the server to ask (RFC 8489 §10).
        Failed,    ///< The transaction failed: `failure` says how, after the server's name.
    };
    Kind kind = Kind::Ignored;
    TransportAddress address;
    std::string failure; ///< e.g. " answered with error 400 (Bad Request)"
};

/** Reads @p datagram, a Binding response that is_binding_response() accepted and that the
 * caller matched to its transaction @p id (from make_binding_request()) and to the server's
 * address: libnice's agent validates it (unknown comprehension-required attributes fail it,
 * RFC 8489 §6.3.3) and reads the address. */
BindingAnswer read_binding_answer(const TransactionId& id, std::span<const std::uint8_t> datagram);

} // namespace jgather::stun
