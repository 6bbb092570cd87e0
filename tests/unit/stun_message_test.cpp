// The STUN wire checks the STUN source makes before libnice sees a datagram, on the test
// vectors of RFC 5769 §2.2 and §2.3 (Binding success responses with FINGERPRINT).
#include <vector>

#include <gtest/gtest.h>

#include "sources/stun_message.hpp"

using jgather::stun::check_fingerprint;
using jgather::stun::crc32;
using jgather::stun::Fingerprint;
using jgather::stun::is_binding_response;

namespace {

// RFC 5769 §2.2: sample IPv4 response (192.0.2.1:32853).
const std::vector<std::uint8_t> kIpv4Response = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

// RFC 5769 §2.3: sample IPv6 response (2001:db8:1234:5678:11:2233:4455:6677 port 32853).
const std::vector<std::uint8_t> kIpv6Response = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

// The message without its last 8 bytes (the FINGERPRINT attribute), length fixed.
std::vector<std::uint8_t> without_fingerprint(std::vector<std::uint8_t> m) {
    m.resize(m.size() - 8);
    m[3] = static_cast<std::uint8_t>(m[3] - 8);
    return m;
}

} // namespace

TEST(StunMessage, Crc32IsTheIsoOne) {
    // The check value of CRC-32/ISO-HDLC: CRC of "123456789".
    const std::vector<std::uint8_t> digits = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    EXPECT_EQ(crc32(digits), 0xCBF43926U);
}

TEST(StunMessage, Rfc5769ResponsesAreBindingResponsesWithAValidFingerprint) {
    for (const auto* m : {&kIpv4Response, &kIpv6Response}) {
        EXPECT_TRUE(is_binding_response(*m));
        EXPECT_EQ(check_fingerprint(*m), Fingerprint::Valid);
    }
}

TEST(StunMessage, AnyChangedByteMakesTheFingerprintInvalid) {
    for (std::size_t i = 0; i < kIpv4Response.size(); ++i) {
        auto m = kIpv4Response;
        m[i] ^= 0x01;
        if (is_binding_response(m)) {
            // Bytes 72-73 are FINGERPRINT's type: changed, there is no FINGERPRINT any more.
            EXPECT_EQ(check_fingerprint(m),
                      i == 72 || i == 73 ? Fingerprint::Absent : Fingerprint::Invalid)
                << "byte " << i;
        }
    }
}

TEST(StunMessage, NoFingerprintIsAbsentNotInvalid) {
    const auto m = without_fingerprint(kIpv4Response);
    ASSERT_TRUE(is_binding_response(m));
    EXPECT_EQ(check_fingerprint(m), Fingerprint::Absent);
}

TEST(StunMessage, AFingerprintBeforeAnotherAttributeIsInvalid) {
    auto m = kIpv4Response;
    // SOFTWARE "abcd" after the FINGERPRINT (RFC 8489 §14.7: it must be last).
    m.insert(m.end(), {0x80, 0x22, 0x00, 0x04, 'a', 'b', 'c', 'd'});
    m[3] = static_cast<std::uint8_t>(m[3] + 8);
    ASSERT_TRUE(is_binding_response(m));
    EXPECT_EQ(check_fingerprint(m), Fingerprint::Invalid);
}

TEST(StunMessage, OnlyWholeBindingResponsesPass) {
    auto request = kIpv4Response;
    request[0] = 0x00; // Binding request
    EXPECT_FALSE(is_binding_response(request));
    auto error = kIpv4Response;
    error[1] = 0x11; // Binding error response
    EXPECT_TRUE(is_binding_response(error));
    auto other_method = kIpv4Response;
    other_method[1] = 0x03; // Allocate success (RFC 8656)
    EXPECT_FALSE(is_binding_response(other_method));
    auto no_cookie = kIpv4Response;
    no_cookie[4] = 0x00; // RFC 3489 message
    EXPECT_FALSE(is_binding_response(no_cookie));
    auto truncated = kIpv4Response;
    truncated.pop_back();
    EXPECT_FALSE(is_binding_response(truncated));
    auto longer = kIpv4Response;
    longer.insert(longer.end(), {0, 0, 0, 0});
    EXPECT_FALSE(is_binding_response(longer)) << "length field disagrees with the datagram";
    auto overrun = kIpv4Response;
    overrun[23] = 0xff; // SOFTWARE claims 255 bytes
    EXPECT_FALSE(is_binding_response(overrun));
    EXPECT_FALSE(is_binding_response(std::vector<std::uint8_t>(19, 0)));
}
