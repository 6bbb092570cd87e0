// XEP-0215 answers as prosody 0.12 and ejabberd 23.01 write them (interop.md), each class of bad
// service refused on its own with the attribute named, XEP-0082 DateTime, TURN configuration.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <jgather/ice_servers.hpp>

#include "xmpp/extdisco.hpp"
#include "xmpp/xml.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

const auto kNow = std::chrono::system_clock::from_time_t(1'700'000'000); // 2023-11-14T22:13:20Z

std::vector<ExternalService> read(const std::string& xml, const char* element = "services",
                                  const char* ns = detail::kExtdisco2) {
    std::vector<ExternalService> out;
    auto parsed = detail::parse_element(xml, element, ns, [&](const gloox::Tag& root) -> Result<void> {
        auto services = detail::read_services(root, kNow);
        if (!services) {
            return services.error();
        }
        out = std::move(*services);
        return {};
    });
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message);
    return out;
}

std::string one(const std::string& attributes) {
    return "<services xmlns='urn:xmpp:extdisco:2'><service " + attributes + "/></services>";
}

} // namespace

TEST(Extdisco, ReadsProsodysAnswer) {
    const auto services = read(
        "<services xmlns='urn:xmpp:extdisco:2'>"
        "<service type='stun' transport='udp' host='203.0.113.1' port='3478'/>"
        "<service type='turn' transport='udp' host='203.0.113.1' port='3478' "
        "username='1700003600' password='c2VjcmV0' expires='2023-11-14T23:13:20Z' restricted='1'/>"
        "<service type='turn' transport='tcp' host='203.0.113.1' port='3478' "
        "username='u' password='p' restricted='1'/>"
        "</services>");
    ASSERT_EQ(services.size(), 3U);
    EXPECT_TRUE(services[0].usable()) << services[0].problem;
    EXPECT_EQ(services[0].type, ServiceType::Stun);
    ASSERT_EQ(services[0].addresses.size(), 1U);
    EXPECT_EQ(services[0].addresses[0].to_string(), "203.0.113.1");
    EXPECT_TRUE(services[1].restricted);
    EXPECT_EQ(services[1].username, "1700003600");
    ASSERT_TRUE(services[1].expires);
    EXPECT_EQ(*services[1].expires - kNow, 3600s);
    ExternalServices found{services, "example.org", detail::kExtdisco2, "", 1};
    ASSERT_EQ(found.stun_servers().size(), 1U);
    EXPECT_EQ(found.stun_servers()[0].to_string(), "203.0.113.1:3478");
    const auto turn = found.turn_servers();
    ASSERT_EQ(turn.size(), 2U);
    EXPECT_EQ(turn[0].transport, RelayTransport::Udp);
    EXPECT_EQ(turn[1].transport, RelayTransport::Tcp);
    EXPECT_EQ(turn[0].password, "c2VjcmV0");
    EXPECT_EQ(turn[0].origin, "extdisco example.org");
}

TEST(Extdisco, ReadsEjabberdsBooleansAndDefaults) {
    const auto services = read(one("type='turn' host='203.0.113.1' restricted='true' "
                                   "username='a' password='b'") +
                               "", "services");
    ASSERT_EQ(services.size(), 1U);
    EXPECT_TRUE(services[0].usable()) << services[0].problem;
    EXPECT_TRUE(services[0].restricted);
    EXPECT_EQ(services[0].port, kDefaultStunPort); // RFC 8656 §17
    EXPECT_EQ(services[0].transport, "udp");
    const auto tls = read(one("type='turns' host='203.0.113.1' restricted='false'"));
    ASSERT_EQ(tls.size(), 1U);
    EXPECT_FALSE(tls[0].restricted);
    EXPECT_EQ(tls[0].port, kDefaultStunsPort);
    EXPECT_EQ(tls[0].transport, "tcp");
}

TEST(Extdisco, CredentialsAnswerInTheOldNamespace) {
    const auto services = read("<credentials xmlns='urn:xmpp:extdisco:1'><service type='turn' "
                               "host='turn.example.org' port='3478' username='x' password='y'/>"
                               "</credentials>",
                               "credentials", detail::kExtdisco1);
    ASSERT_EQ(services.size(), 1U);
    EXPECT_TRUE(services[0].usable()) << services[0].problem;
    EXPECT_TRUE(services[0].addresses.empty()); // a name: resolved later, on the loop
    EXPECT_EQ(services[0].host, "turn.example.org");
}

TEST(Extdisco, EachBadServiceNamesItsAttributeAndSpoilsNoOther) {
    struct Case {
        const char* attributes;
        const char* expected;
    };
    const Case cases[] = {
        {"type='ftp' host='203.0.113.1'", "attribute 'type': 'ftp'"},
        {"host='203.0.113.1'", "attribute 'type': missing"},
        {"type='stun'", "attribute 'host': missing"},
        {"type='stun' host='203.0.113.1' port='0'", "attribute 'port'"},
        {"type='stun' host='203.0.113.1' port='70000'", "attribute 'port'"},
        {"type='stun' host='203.0.113.1' transport='sctp'", "attribute 'transport': 'sctp'"},
        {"type='stun' host='127.0.0.1'", "loopback"},
        {"type='stun' host='::1'", "loopback"},
        {"type='turn' host='169.254.1.1'", "link-local"},
        {"type='stun' host='0.0.0.0'", "attribute 'host'"},
        {"type='stun' host='224.0.0.1'", "attribute 'host'"},
        {"type='stun' host='2130706433'", "attribute 'host'"},
        {"type='turn' host='203.0.113.1' restricted='maybe'", "attribute 'restricted'"},
        {"type='turn' host='203.0.113.1' expires='tomorrow'", "attribute 'expires'"},
        {"type='turn' host='203.0.113.1' expires='2020-01-01T00:00:00Z'", "has passed"},
    };
    for (const Case& c : cases) {
        const auto services = read("<services xmlns='urn:xmpp:extdisco:2'><service " +
                                   std::string(c.attributes) +
                                   "/><service type='stun' host='198.51.100.7'/></services>");
        ASSERT_EQ(services.size(), 2U) << c.attributes;
        EXPECT_FALSE(services[0].usable()) << c.attributes;
        EXPECT_NE(services[0].problem.find(c.expected), std::string::npos)
            << c.attributes << " -> " << services[0].problem;
        EXPECT_NE(services[0].problem.find("service[0]"), std::string::npos) << services[0].problem;
        EXPECT_TRUE(services[1].usable()) << c.attributes << ": " << services[1].problem;
    }
}

TEST(Extdisco, TooManyServicesIsAnError) {
    std::string xml = "<services xmlns='urn:xmpp:extdisco:2'>";
    for (std::size_t i = 0; i <= detail::kMaxServices; ++i) {
        xml += "<service type='stun' host='203.0.113.1'/>";
    }
    xml += "</services>";
    auto parsed = detail::parse_element(xml, "services", detail::kExtdisco2,
                                        [](const gloox::Tag& root) -> Result<void> {
                                            auto s = detail::read_services(root, kNow);
                                            if (!s) {
                                                return s.error();
                                            }
                                            return {};
                                        });
    ASSERT_FALSE(parsed);
    EXPECT_NE(parsed.error().message.find("more than 32 services"), std::string::npos);
}

TEST(Extdisco, DateTimes) {
    const auto utc = detail::parse_datetime("2023-11-14T22:13:20Z");
    ASSERT_TRUE(utc);
    EXPECT_EQ(*utc, kNow);
    const auto fraction = detail::parse_datetime("2023-11-14T22:13:20.123Z");
    ASSERT_TRUE(fraction);
    EXPECT_EQ(*fraction, kNow);
    const auto offset = detail::parse_datetime("2023-11-14T23:13:20+01:00");
    ASSERT_TRUE(offset);
    EXPECT_EQ(*offset, kNow);
    for (const char* bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z",
                            "2023-11-14T22:13:20+1:00", "2023-11-14T22:13:20Zjunk",
                            "2023-11-14T22:13:20.Z", "x023-11-14T22:13:20Z"}) {
        EXPECT_FALSE(detail::parse_datetime(bad)) << bad;
    }
}

TEST(Extdisco, TurnServersByHand) {
    auto turn = make_turn_server("203.0.113.1", "user", "pw", RelayTransport::Tcp, "--turn");
    ASSERT_TRUE(turn) << turn.error().message;
    EXPECT_EQ(turn->address.to_string(), "203.0.113.1:3478");
    EXPECT_EQ(turn->transport, RelayTransport::Tcp);
    auto v6 = make_turn_server("[2001:db8::1]:5000", "user", "pw");
    ASSERT_TRUE(v6) << v6.error().message;
    EXPECT_EQ(v6->address.port, 5000);
    EXPECT_FALSE(make_turn_server("203.0.113.1", "", "pw"));
    EXPECT_FALSE(make_turn_server("203.0.113.1", "u", ""));
    EXPECT_FALSE(make_turn_server("turn.example.org", "u", "p"));
    EXPECT_FALSE(make_turn_server("203.0.113.1:0", "u", "p"));
    EXPECT_FALSE(make_turn_server("203.0.113.1", std::string(513, 'u'), "p"));
    EXPECT_EQ(parse_relay_transport("tcp"), RelayTransport::Tcp);
    EXPECT_FALSE(parse_relay_transport("tls"));
    EXPECT_EQ(parse_service_type("turns"), ServiceType::Turns);
    EXPECT_FALSE(parse_service_type("TURN"));
}
