#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <jgather/address.hpp>

using jgather::Family;
using jgather::IpAddress;

TEST(IpAddress, ParsesLiteralsAndWritesCanonicalText) {
    auto v4 = IpAddress::parse("192.0.2.1");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->family(), Family::IPv4);
    EXPECT_EQ(v4->to_string(), "192.0.2.1");

    // RFC 5952: lower case, longest run of zeros compressed.
    auto v6 = IpAddress::parse("2001:DB8:0:0:0:0:0:1");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->family(), Family::IPv6);
    EXPECT_EQ(v6->to_string(), "2001:db8::1");
}

TEST(IpAddress, RejectsNamesZonesAndJunk) {
    for (const char* text :
         {"", "example.org", "localhost", "192.0.2", "192.0.2.256", " 192.0.2.1", "192.0.2.1 ",
          "[2001:db8::1]", "fe80::1%eth0", "2001:db8::g", "1.2.3.4.5", "0x7f.0.0.1"}) {
        auto parsed = IpAddress::parse(text);
        EXPECT_FALSE(parsed) << text;
        if (!parsed) {
            EXPECT_NE(parsed.error().message.find("not a literal"), std::string::npos);
        }
    }
}

TEST(IpAddress, Classifies) {
    EXPECT_TRUE(IpAddress::parse("127.0.0.5")->is_loopback());
    EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
    EXPECT_FALSE(IpAddress::parse("::2")->is_loopback());
    EXPECT_TRUE(IpAddress::parse("169.254.1.1")->is_link_local());
    EXPECT_TRUE(IpAddress::parse("fe80::1")->is_link_local());
    EXPECT_TRUE(IpAddress::parse("febf::1")->is_link_local());
    EXPECT_FALSE(IpAddress::parse("fec0::1")->is_link_local());
    EXPECT_TRUE(IpAddress::parse("100.64.0.1")->is_shared_cgnat());
    EXPECT_TRUE(IpAddress::parse("100.127.255.255")->is_shared_cgnat());
    EXPECT_FALSE(IpAddress::parse("100.128.0.0")->is_shared_cgnat());
    EXPECT_TRUE(IpAddress::parse("172.31.0.1")->is_private());
    EXPECT_FALSE(IpAddress::parse("172.32.0.1")->is_private());
    EXPECT_TRUE(IpAddress::parse("fd00::1")->is_private());
    EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
    EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
}

TEST(IpAddress, UnmapsIpv4MappedIpv6) {
    auto mapped = IpAddress::parse("::ffff:192.0.2.7");
    ASSERT_TRUE(mapped);
    EXPECT_TRUE(mapped->is_v4_mapped());
    EXPECT_EQ(mapped->unmapped(), *IpAddress::parse("192.0.2.7"));
    EXPECT_EQ(IpAddress::parse("2001:db8::1")->unmapped(), *IpAddress::parse("2001:db8::1"));
}

TEST(IpAddress, ComparesPrefixes) {
    auto a = *IpAddress::parse("2001:db8:1:2::10");
    EXPECT_TRUE(a.same_prefix(*IpAddress::parse("2001:db8:1:2:ffff::1"), 64));
    EXPECT_FALSE(a.same_prefix(*IpAddress::parse("2001:db8:1:3::10"), 64));
    EXPECT_TRUE(
        IpAddress::parse("198.51.100.7")->same_prefix(*IpAddress::parse("198.51.100.200"), 24));
    EXPECT_TRUE(
        IpAddress::parse("198.51.100.7")->same_prefix(*IpAddress::parse("198.51.100.1"), 29));
    EXPECT_FALSE(
        IpAddress::parse("198.51.100.7")->same_prefix(*IpAddress::parse("198.51.100.8"), 29));
    EXPECT_FALSE(a.same_prefix(*IpAddress::parse("192.0.2.1"), 0));
}

TEST(TransportAddress, FormatsWithBracketsForIpv6) {
    EXPECT_EQ((jgather::TransportAddress{*IpAddress::parse("2001:db8::1"), 5000}.to_string()),
              "[2001:db8::1]:5000");
    EXPECT_EQ((jgather::TransportAddress{*IpAddress::parse("192.0.2.1"), 80}.to_string()),
              "192.0.2.1:80");
    // IPv4 is written in one pass: the shortest and the longest forms, and every digit count.
    EXPECT_EQ((jgather::TransportAddress{*IpAddress::parse("0.0.0.0"), 0}.to_string()),
              "0.0.0.0:0");
    EXPECT_EQ((jgather::TransportAddress{*IpAddress::parse("255.255.255.255"), 65535}.to_string()),
              "255.255.255.255:65535");
    EXPECT_EQ((jgather::TransportAddress{*IpAddress::parse("10.99.100.9"), 3478}.to_string()),
              "10.99.100.9:3478");
}

TEST(IpAddress, TextMatchesInetNtopForRfc5952Cases) {
    // glibc's inet_ntop is RFC 5952 canonical; the formatter must agree with it.
    for (const char* text :
         {"::", "::1", "1::", "2001:db8::1", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1",
          "2001:db8:0:0:1:0:0:1", "fe80::1:0:0:0", "0:0:1::", "1:0:0:2:0:0:0:3",
          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:192.0.2.1", "2001:db8:a:b:c:d:e:0",
          "0.0.0.0", "255.255.255.255", "192.0.2.10", "10.0.100.1"}) {
        auto parsed = IpAddress::parse(text);
        ASSERT_TRUE(parsed) << text;
        char expected[INET6_ADDRSTRLEN] = {};
        const int family = parsed->family() == Family::IPv4 ? AF_INET : AF_INET6;
        inet_ntop(family, parsed->bytes().data(), expected, sizeof expected);
        EXPECT_EQ(parsed->to_string(), expected) << text;
    }
}
