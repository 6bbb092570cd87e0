/**
 * @file address.hpp
 * @brief IP addresses and transport addresses as values.
 */
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <jgather/export.hpp>
#include <jgather/result.hpp>

namespace jgather {

/** @brief Address family. */
enum class Family : std::uint8_t {
    IPv4, ///< 32-bit addresses.
    IPv6, ///< 128-bit addresses.
};

/**
 * @brief A literal IPv4 or IPv6 address (never a host name, never a zone).
 *
 * IPv4 bytes are kept in the first four bytes. Comparison orders IPv4 before IPv6, then bytes.
 */
class JGATHER_EXPORT IpAddress {
public:
    /** The IPv4 unspecified address 0.0.0.0. */
    IpAddress() = default;

    /**
     * Parses a literal: dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text. Host names, zone ids
     * ("%eth0"), brackets and surrounding blanks are rejected. IPv4-mapped IPv6
     * (\::ffff:192.0.2.1) is kept as IPv6; call unmapped() to normalise.
     */
    static Result<IpAddress> parse(std::string_view text);
    /** An IPv4 address from its four bytes in network order. */
    static IpAddress v4(const std::array<std::uint8_t, 4>& bytes);
    /** An IPv6 address from its sixteen bytes in network order. */
    static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);

    /** The family. */
    [[nodiscard]] Family family() const noexcept { return family_; }
    /** The bytes in network order: 4 meaningful for IPv4, 16 for IPv6. */
    [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
    /** Canonical text: dotted-quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
    [[nodiscard]] std::string to_string() const;

    /** 127.0.0.0/8 or ::1. */
    [[nodiscard]] bool is_loopback() const noexcept;
    /** 169.254.0.0/16 or fe80::/10. */
    [[nodiscard]] bool is_link_local() const noexcept;
    /** 0.0.0.0 or ::. */
    [[nodiscard]] bool is_unspecified() const noexcept;
    /** \::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
    [[nodiscard]] bool is_v4_mapped() const noexcept;
    /** 100.64.0.0/10, carrier-grade NAT shared space (RFC 6598). */
    [[nodiscard]] bool is_shared_cgnat() const noexcept;
    /** 10/8, 172.16/12, 192.168/16 (RFC 1918) or fc00::/7 (RFC 4193). */
    [[nodiscard]] bool is_private() const noexcept;
    /** 224.0.0.0/4 or ff00::/8 (RFC 5771, RFC 4291 §2.7). */
    [[nodiscard]] bool is_multicast() const noexcept;
    /** 255.255.255.255, the limited broadcast address (RFC 919). */
    [[nodiscard]] bool is_broadcast() const noexcept;
    /** 0.0.0.0/8 "this network" (RFC 1122 §3.2.1.3) or 240.0.0.0/4 reserved (RFC 1112 §4). */
    [[nodiscard]] bool is_reserved() const noexcept;
    /** The IPv4 address inside an IPv4-mapped IPv6 address; otherwise the address itself. */
    [[nodiscard]] IpAddress unmapped() const noexcept;
    /** True when the first @p prefix_length bits equal those of @p other (same family only). */
    [[nodiscard]] bool same_prefix(const IpAddress& other, unsigned prefix_length) const noexcept;

    /** Orders IPv4 before IPv6, then by bytes. */
    auto operator<=>(const IpAddress&) const = default;

private:
    Family family_ = Family::IPv4;
    std::array<std::uint8_t, 16> bytes_{};
};

/**
 * Why @p ip cannot be anybody's address on the Internet side of a NAT (unspecified, multicast,
 * broadcast, reserved, loopback, link-local), or nothing when it can. Private (RFC 1918) and
 * carrier-grade (RFC 6598) addresses can: they are external addresses of an inner NAT, and the
 * network verdict notes them. Every external and mapped address a source reports is checked
 * with this; a custom source may call it too.
 */
JGATHER_EXPORT std::optional<std::string> external_address_problem(const IpAddress& ip);

/**
 * Why @p ip can never be where a peer is reached (unspecified, multicast, broadcast, reserved),
 * or nothing. Loopback and link-local addresses pass: whether they are acceptable is the
 * reader's option (see xep0176::ReadOptions).
 */
JGATHER_EXPORT std::optional<std::string> remote_address_problem(const IpAddress& ip);

/** @brief An IP address with a port: where a candidate can be reached. */
struct JGATHER_EXPORT TransportAddress {
    IpAddress ip;           ///< The address.
    std::uint16_t port = 0; ///< The port (0 = none).

    /**
     * Parses "IPv4", "IPv4:PORT", "[IPv6]:PORT", "[IPv6]" or a bare IPv6 literal; the one
     * parser behind every option and flag that takes an address. A port must be plain decimal
     * 1-65535 (no sign, no leading zero); without one, the result has @p default_port (0 =
     * none). An IPv4-mapped IPv6 address is normalised to IPv4.
     */
    static Result<TransportAddress> parse(std::string_view text, std::uint16_t default_port = 0);

    /** "192.0.2.1:5000" or "[2001:db8::1]:5000". */
    [[nodiscard]] std::string to_string() const;
    /** Orders by address, then port. */
    auto operator<=>(const TransportAddress&) const = default;
};

} // namespace jgather
