#include "stun_message.hpp"
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cstring>
#include <netinet/in.h>
#include <tuple>

#include <stun/usages/bind.h>

#include "util/sockaddr.hpp"

namespace jgather::stun {
namespace {

// RFC 8489 §14.7: the CRC is XOR-ed with this, so that it never matches the CRC of another
// protocol's packet that happens to carry it.
constexpr std::uint32_t kFingerprintXor = 0x5354554e;
constexpr std::uint16_t kFingerprintType = 0x8028;
// RFC 8489 §5: Binding (method 0x001) with the success (0b10) and error (0b11) class bits.
constexpr std::uint16_t kBindingSuccess = 0x0101;
constexpr std::uint16_t kBindingError = 0x0111;
constexpr std::size_t kAttributeHeaderSize = 4;

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit) {
            c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        }
        table[i] = c;
    }
    return table;
}

constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

std::uint16_t read16(std::span<const std::uint8_t> data, std::size_t at) {
    return static_cast<std::uint16_t>((data[at] << 8) | data[at + 1]);
}

std::uint32_t read32(std::span<const std::uint8_t> data, std::size_t at) {
    return (static_cast<std::uint32_t>(read16(data, at)) << 16) | read16(data, at + 2);
}

std::size_t padded(std::size_t length) {
    return (length + 3) & ~std::size_t{3}; // RFC 8489 §14: values padded to 4 bytes
}

// " answered with error 400 (Bad Request)" or " answered without a mapped address".
std::string describe_failure(const StunMessage& message) {
    if (stun_message_get_class(&message) != STUN_ERROR) {
        return " answered without a mapped address";
    }
    std::string text = " answered with an error response";
    int code = 0;
    if (stun_message_find_error(&message, &code) == STUN_MESSAGE_RETURN_SUCCESS) {
        text = " answered with error " + std::to_string(code);
        // RFC 8489 §14.8: the reason phrase follows the 4-byte class/number header.
        std::uint16_t length = 0;
        const auto* value = static_cast<const char*>(
            stun_message_find(&message, STUN_ATTRIBUTE_ERROR_CODE, &length));
        if (value && length > 4) {
            std::string reason(value + 4, std::min<std::size_t>(length - 4U, 128));
            std::erase_if(reason, [](char c) { return c < 0x20 || c == 0x7f; });
            text += " (" + reason + ")";
        }
    }
    return text;
}

// The attributes we understand in a Binding response (libnice's agent rejects responses with
// unknown comprehension-required attributes, RFC 8489 §14); 0 ends the list.
constexpr std::array<std::uint16_t, 12> kKnownAttributes = {STUN_ATTRIBUTE_MAPPED_ADDRESS,
                                                            STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
                                                            STUN_ATTRIBUTE_ALTERNATE_SERVER,
                                                            STUN_ATTRIBUTE_ERROR_CODE,
                                                            STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES,
                                                            STUN_ATTRIBUTE_FINGERPRINT,
                                                            STUN_ATTRIBUTE_SOFTWARE,
                                                            STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
                                                            STUN_ATTRIBUTE_USERNAME,
                                                            STUN_ATTRIBUTE_REALM,
                                                            STUN_ATTRIBUTE_NONCE,
                                                            0};

} // namespace

namespace {

// The thread's agent (see make_binding_request()).
StunAgent& thread_agent() {
    thread_local StunAgent agent = [] {
        StunAgent a;
        // RFC 5389/8489 messages. No USE_FINGERPRINT: with it libnice rejects answers that
        // carry none, and ejabberd's carry none (interop.md); without it libnice checks none,
        // so read_binding_answer() checks a FINGERPRINT that is present itself.
        stun_agent_init(&a, kKnownAttributes.data(), STUN_COMPATIBILITY_RFC5389,
                        static_cast<StunAgentUsageFlags>(0));
        return a;
    }();
    return agent;
}

} // namespace

BindingRequest make_binding_request() {
    StunAgent& agent = thread_agent();
    BindingRequest request;
    StunMessage message{};
    request.length =
        stun_usage_bind_create(&agent, &message, request.bytes.data(), request.bytes.size());
    StunTransactionId id{};
    stun_message_id(&message, id);
    std::memcpy(request.id.data(), id, request.id.size());
    // Held for this call only: the source keeps the id and matches answers itself.
    stun_agent_forget_transaction(&agent, id);
    return request;
}

std::uint32_t crc32(std::span<const std::uint8_t> data) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (const std::uint8_t byte : data) {
        crc = kCrcTable[(crc ^ byte) & 0xFFU] ^ (crc >> 8);
    }
    return ~crc;
}

bool is_binding_response(std::span<const std::uint8_t> datagram) {
    if (datagram.size() < kHeaderSize) {
        return false;
    }
    const std::uint16_t type = read16(datagram, 0);
    const std::size_t length = read16(datagram, 2);
    if ((type != kBindingSuccess && type != kBindingError) || read32(datagram, 4) != kMagicCookie ||
        length % 4 != 0 || kHeaderSize + length != datagram.size()) {
        return false;
    }
    for (std::size_t at = kHeaderSize; at < datagram.size();) {
        if (at + kAttributeHeaderSize > datagram.size()) {
            return false;
        }
        at += kAttributeHeaderSize + padded(read16(datagram, at + 2));
        if (at > datagram.size()) {
            return false;
        }
    }
    return true;
}

Fingerprint check_fingerprint(std::span<const std::uint8_t> message) {
    for (std::size_t at = kHeaderSize; at < message.size();) {
        const std::uint16_t type = read16(message, at);
        const std::size_t length = read16(message, at + 2);
        const std::size_t next = at + kAttributeHeaderSize + padded(length);
        if (type == kFingerprintType) {
            // RFC 8489 §14.7: the last attribute; its CRC covers everything before it.
            if (length != 4 || next != message.size()) {
                return Fingerprint::Invalid;
            }
            const std::uint32_t expected = crc32(message.first(at)) ^ kFingerprintXor;
            return read32(message, at + kAttributeHeaderSize) == expected ? Fingerprint::Valid
                                                                          : Fingerprint::Invalid;
        }
        at = next;
    }
    return Fingerprint::Absent;
}

BindingAnswer read_binding_answer(const TransactionId& id, std::span<const std::uint8_t> datagram) {
    if (check_fingerprint(datagram) == Fingerprint::Invalid) {
        return {}; // RFC 8489 §14.7: a wrong FINGERPRINT, so not (intact) STUN
    }
    const auto failed = [](std::string why) {
        return BindingAnswer{BindingAnswer::Kind::Failed, {}, std::move(why)};
    };
    // libnice validates a response only against a request its agent remembers: make the
    // thread's agent remember ours for this call. stun_agent_finish_message() records the id
    // it finds in the message (stun/stunagent.c), so a request with our id is finished into
    // a scratch buffer; the validation consumes it, and anything else forgets it.
    // stun_agent_init_request() less its random id (a ChaCha draw, only to be overwritten):
    // the same fields, and stun_message_init() with our id (stun/stunagent.c).
    StunAgent& agent = thread_agent();
    {
        StunMessage scratch{};
        std::array<std::uint8_t, kMaxRequestSize> bytes;
        scratch.buffer = bytes.data();
        scratch.buffer_len = bytes.size();
        scratch.agent = &agent;
        StunTransactionId held{};
        static_assert(sizeof held == std::tuple_size_v<TransactionId>);
        std::memcpy(held, id.data(), id.size()); // RFC 8489 §5: the magic cookie, then the id
        if (!stun_message_init(&scratch, STUN_REQUEST, STUN_BINDING, held) ||
            stun_agent_finish_message(&agent, &scratch, nullptr, 0) == 0) {
            return {};
        }
    }
    StunMessage message{};
    const StunValidationStatus status =
        stun_agent_validate(&agent, &message, datagram.data(), datagram.size(), nullptr, nullptr);
    StunTransactionId held{};
    std::memcpy(held, id.data(), id.size());
    stun_agent_forget_transaction(&agent, held); // a no-op when the validation consumed it
    switch (status) {
    case STUN_VALIDATION_SUCCESS:
        break;
    case STUN_VALIDATION_UNKNOWN_ATTRIBUTE:
        // RFC 8489 §6.3.3/§6.3.4: unknown comprehension-required attributes fail the
        // transaction (and libnice has forgotten it).
        return failed(" answered with an unknown comprehension-required attribute");
    default:
        return {};
    }
    sockaddr_storage mapped{};
    socklen_t mapped_length = sizeof mapped;
    sockaddr_storage alternate{};
    socklen_t alternate_length = sizeof alternate;
    const StunUsageBindReturn processed =
        stun_usage_bind_process(&message, reinterpret_cast<sockaddr*>(&mapped), &mapped_length,
                                reinterpret_cast<sockaddr*>(&alternate), &alternate_length);
    if (processed != STUN_USAGE_BIND_RETURN_SUCCESS &&
        processed != STUN_USAGE_BIND_RETURN_ALTERNATE_SERVER) {
        // A validated response ends the transaction (libnice has forgotten it): an error
        // response, or a success without a mapped address.
        return failed(describe_failure(message));
    }
    const bool success = processed == STUN_USAGE_BIND_RETURN_SUCCESS;
    const auto address = detail::from_sockaddr(success ? mapped : alternate);
    if (!address || address->port == 0) {
        return failed(success ? " answered an unusable mapped address"
                              : " redirected to an unusable address");
    }
    return {success ? BindingAnswer::Kind::Mapped : BindingAnswer::Kind::Alternate, *address, {}};
}

} // namespace jgather::stun
