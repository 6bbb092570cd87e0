#include "stun_message.hpp"
#include <array>

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

} // namespace

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

} // namespace jgather::stun
