#include "socks5.hpp"
#include <cstdio>

namespace jgather::detail::socks5 {
namespace {

std::string hex_byte(std::uint8_t byte) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", byte);
    return text;
}

std::uint8_t at(std::string_view message, std::size_t i) {
    return static_cast<std::uint8_t>(message[i]);
}

Result<void> check_version(std::string_view message, std::string_view what) {
    if (message.empty() || at(message, 0) != kVersion) {
        return Error{std::string(what) + ": not SOCKS5 (version byte " +
                     (message.empty() ? std::string("missing") : hex_byte(at(message, 0))) + ")"};
    }
    return {};
}

// RFC 1928 §4/§6: VER CMD|REP RSV ATYP ADDR PORT; the address part's length by ATYP.
std::size_t address_length(std::string_view message) {
    switch (at(message, 3)) {
    case kAtypIpv4:
        return 4;
    case kAtypIpv6:
        return 16;
    case kAtypDomain:
        return 1 + at(message, 4);
    default:
        return 0;
    }
}

std::string with_domain(std::uint8_t second, std::string_view domain) {
    std::string out{static_cast<char>(kVersion), static_cast<char>(second), 0,
                    static_cast<char>(kAtypDomain), static_cast<char>(domain.size())};
    out.append(domain);
    out.append(2, '\0'); // port 0
    return out;
}

} // namespace

std::string_view reply_meaning(std::uint8_t rep) noexcept {
    switch (rep) {
    case 0x00:
        return "succeeded";
    case 0x01:
        return "general SOCKS server failure";
    case 0x02:
        return "connection not allowed by ruleset";
    case 0x03:
        return "network unreachable";
    case 0x04:
        return "host unreachable";
    case 0x05:
        return "connection refused";
    case 0x06:
        return "TTL expired";
    case 0x07:
        return "command not supported";
    case 0x08:
        return "address type not supported";
    default:
        return "unassigned";
    }
}

std::string greeting() {
    return {static_cast<char>(kVersion), 1, static_cast<char>(kNoAuthentication)};
}

std::string method_selection(std::uint8_t method) {
    return {static_cast<char>(kVersion), static_cast<char>(method)};
}

std::string connect_request(std::string_view dstaddr) {
    return with_domain(kConnect, dstaddr);
}

std::string reply(std::uint8_t rep, std::string_view dstaddr) {
    return with_domain(rep, dstaddr);
}

std::size_t greeting_length(std::string_view have) noexcept {
    return have.size() < 2 ? 2 : 2 + at(have, 1);
}

std::size_t request_length(std::string_view have) noexcept {
    if (have.size() < 5) {
        return 5;
    }
    const std::size_t address = address_length(have);
    return address == 0 ? have.size() : 4 + address + 2;
}

Result<void> read_greeting(std::string_view message) {
    if (auto version = check_version(message, "greeting"); !version) {
        return version;
    }
    if (message.size() < 2 || message.size() != greeting_length(message)) {
        return Error{"greeting: truncated"};
    }
    for (std::size_t i = 2; i < message.size(); ++i) {
        if (at(message, i) == kNoAuthentication) {
            return {};
        }
    }
    return Error{"greeting: does not offer \"no authentication\" (RFC 1928 method 0x00)"};
}

Result<void> read_method_selection(std::string_view message) {
    if (auto version = check_version(message, "method selection"); !version) {
        return version;
    }
    if (message.size() != kMethodSelectionLength) {
        return Error{"method selection: truncated"};
    }
    if (at(message, 1) == kNoAcceptableMethod) {
        return Error{"the SOCKS5 server accepts no method we offer (it wants authentication)"};
    }
    if (at(message, 1) != kNoAuthentication) {
        return Error{"the SOCKS5 server chose method " + hex_byte(at(message, 1)) +
                     ", which was not offered"};
    }
    return {};
}

bool read_request(std::string_view message, Request& request, RequestError& error) {
    if (auto version = check_version(message, "request"); !version) {
        error = {kGeneralFailure, version.error().message};
        return false;
    }
    if (message.size() < 5) {
        error = {kGeneralFailure, "request: truncated"};
        return false;
    }
    if (at(message, 1) != kConnect) {
        error = {kCommandNotSupported,
                 "request: command " + hex_byte(at(message, 1)) + " is not CONNECT"};
        return false;
    }
    if (at(message, 3) != kAtypDomain) {
        error = {kAddressTypeNotSupported, "request: address type " + hex_byte(at(message, 3)) +
                                               " is not a domain name (XEP-0065 §5.3.2)"};
        return false;
    }
    if (message.size() != request_length(message)) {
        error = {kGeneralFailure, "request: truncated"};
        return false;
    }
    request.dstaddr.assign(message.substr(5, at(message, 4)));
    return true;
}

Result<void> read_reply(std::string_view message, std::string_view dstaddr) {
    if (auto version = check_version(message, "reply"); !version) {
        return version;
    }
    if (message.size() < 5) {
        return Error{"reply: truncated"};
    }
    if (address_length(message) == 0) {
        return Error{"reply: address type " + hex_byte(at(message, 3)) +
                     " is not one of RFC 1928's"};
    }
    if (message.size() != request_length(message)) {
        return Error{"reply: truncated"};
    }
    if (at(message, 1) != kSucceeded) {
        return Error{"SOCKS5 reply " + hex_byte(at(message, 1)) + " (" +
                     std::string(reply_meaning(at(message, 1))) + ")"};
    }
    if (at(message, 3) == kAtypDomain && message.substr(5, at(message, 4)) != dstaddr) {
        return Error{"reply: the server confirmed DST.ADDR \"" +
                     std::string(message.substr(5, at(message, 4))) + "\", not ours"};
    }
    return {};
}

} // namespace jgather::detail::socks5
