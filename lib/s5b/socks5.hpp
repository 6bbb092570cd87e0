// The SOCKS5 messages of XEP-0065 (RFC 1928 with no authentication and a domain-name DST.ADDR),
// built and read without any I/O, so that the connector, the acceptor and the fuzzers share one
// reader. Each reader is told the bytes received so far and says how many the message has in all,
// so that a caller reads exactly one message and never the data behind it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <jgather/result.hpp>

namespace jgather::detail::socks5 {

inline constexpr std::uint8_t kVersion = 0x05;          // RFC 1928 §3
inline constexpr std::uint8_t kNoAuthentication = 0x00; // RFC 1928 §3 METHOD
inline constexpr std::uint8_t kNoAcceptableMethod = 0xFF;
inline constexpr std::uint8_t kConnect = 0x01;  // RFC 1928 §4 CMD
inline constexpr std::uint8_t kAtypIpv4 = 0x01; // RFC 1928 §5
inline constexpr std::uint8_t kAtypDomain = 0x03;
inline constexpr std::uint8_t kAtypIpv6 = 0x04;

/** RFC 1928 §6 REP codes a server sends. */
enum Reply : std::uint8_t {
    kSucceeded = 0x00,
    kGeneralFailure = 0x01,
    kNotAllowed = 0x02,
    kCommandNotSupported = 0x07,
    kAddressTypeNotSupported = 0x08,
};

/** RFC 1928 §6's meaning of a REP code, e.g. "connection refused". */
std::string_view reply_meaning(std::uint8_t rep) noexcept;

/** Client greeting: version 5, one method, "no authentication" (RFC 1928 §3). */
std::string greeting();
/** Server's method selection: @p method is kNoAuthentication or kNoAcceptableMethod. */
std::string method_selection(std::uint8_t method);
/** CONNECT to @p dstaddr:0 (XEP-0065 §5.3.2: ATYP domain, DST.PORT 0). */
std::string connect_request(std::string_view dstaddr);
/** A server's reply @p rep, BND.ADDR = @p dstaddr, BND.PORT 0 (XEP-0065 §5.3.2). */
std::string reply(std::uint8_t rep, std::string_view dstaddr);

/** Length of the client greeting whose first bytes are @p have (2 until known). */
std::size_t greeting_length(std::string_view have) noexcept;
/** Length of a method selection: always 2. */
inline constexpr std::size_t kMethodSelectionLength = 2;
/** Length of a request or reply whose first bytes are @p have: 5 until ATYP and the domain's
 * length byte are known; @p have's own size when ATYP is unknown (the parser then says why). */
std::size_t request_length(std::string_view have) noexcept;

/** A client greeting that offers "no authentication"; an error names what is wrong. */
Result<void> read_greeting(std::string_view message);
/** The server's method selection: an error unless it chose "no authentication". */
Result<void> read_method_selection(std::string_view message);

/** @brief A CONNECT request as the server reads it. */
struct Request {
    std::string dstaddr; // the domain name, as sent
};
/** @brief Why a request was refused, and the REP code that says so. */
struct RequestError {
    std::uint8_t rep = kGeneralFailure;
    std::string message;
};
/** Reads a CONNECT with a domain DST.ADDR; otherwise the REP to answer and why. */
bool read_request(std::string_view message, Request& request, RequestError& error);
/** The server's reply: an error unless it succeeded for @p dstaddr (a domain BND.ADDR must be
 * @p dstaddr; an IP one, which some servers send, is accepted). */
Result<void> read_reply(std::string_view message, std::string_view dstaddr);

} // namespace jgather::detail::socks5
