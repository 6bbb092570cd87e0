// The gatherer's rules without a loop: tables of findings in, candidates, drops and refusals
// out (RFC 8445 §5.1, XEP-0260 §2.2, design.md §2).
#include <algorithm>

#include <gtest/gtest.h>

#include "gatherer/combiner.hpp"
#include "support/local_address.hpp"

using namespace jgather;
using jgather::detail::Changes;
using jgather::detail::Combiner;
using jgather::detail::CombinerSetup;

namespace {

// Two IPv4 bases and one IPv6 base, with SOCKS5 on port 7000. The setup views what the
// gathering holds: here, for the whole test program.
Combiner make_combiner() {
    static const LocalAddress v4a = test::local_address("192.0.2.10", "eth0", 2);
    static const LocalAddress v6 = test::local_address("2001:db8::10", "eth0", 2);
    static const LocalAddress v4b = test::local_address("198.51.100.10", "eth1", 3);
    static const std::vector<Base> bases = {
        {v6, 1, 5001, 65535, {}, 0}, {v4a, 1, 5000, 65534, {}, 0}, {v4b, 1, 5002, 65533, {}, 0}};
    static const std::vector<LocalAddress> addresses = {v4a, v6, v4b};
    CombinerSetup setup;
    setup.s5b = true;
    setup.jid = "romeo@example.org/orchard";
    setup.s5b_port = 7000;
    setup.bases = bases;
    setup.local_addresses = addresses;
    Combiner combiner(setup);
    (void)combiner.add_hosts();
    return combiner;
}

ExternalAddress external(const char* ip, const char* who = "sic") {
    return {*IpAddress::parse(ip), std::nullopt, std::nullopt, {who, "example.org"}};
}

std::size_t count(const std::vector<Candidate>& list, IceType type) {
    return static_cast<std::size_t>(std::count_if(
        list.begin(), list.end(), [type](const Candidate& c) { return c.ice()->type == type; }));
}

struct ExternalCase {
    const char* ip;
    const char* refusal; // substring of the error, or nullptr when accepted
    std::size_t srflx;   // guesses derived
    std::size_t assisted;
};

// gtest would print a case's bytes, padding included (valgrind: uninitialised).
void PrintTo(const ExternalCase& c, std::ostream* out) {
    *out << c.ip;
}

class ExternalFindings : public ::testing::TestWithParam<ExternalCase> {};

} // namespace

TEST(Combiner, HostsAreOneHostPerBaseAndOneDirectPerAddress) {
    Combiner c = make_combiner();
    EXPECT_EQ(count(c.ice(), IceType::Host), 3U);
    ASSERT_EQ(c.s5b().size(), 3U);
    EXPECT_EQ(c.ice()[0].host, "2001:db8::10") << "highest local preference first";
    EXPECT_EQ(c.ice()[0].priority, 126U << 24 | 65535U << 8 | 255U) << "RFC 8445 §5.1.2.1";
    EXPECT_EQ(c.s5b()[0].priority, 126U << 16 | 65535U) << "XEP-0260 §2.2";
    EXPECT_FALSE(c.ice()[0].ice()->related) << "no rel-addr on host candidates";
}

TEST_P(ExternalFindings, AreAcceptedOrRefusedByWhatTheAddressCanBe) {
    const ExternalCase tc = GetParam();
    Combiner c = make_combiner();
    auto changes = c.add_external(external(tc.ip));
    if (tc.refusal) {
        ASSERT_FALSE(changes) << tc.ip;
        EXPECT_NE(changes.error().message.find(tc.refusal), std::string::npos)
            << changes.error().message;
        EXPECT_TRUE(c.external_addresses().empty()) << "a refused finding is not kept";
        return;
    }
    ASSERT_TRUE(changes) << changes.error().message;
    std::size_t srflx = 0;
    std::size_t assisted = 0;
    for (const Candidate& added : changes->added) {
        srflx += added.transport() == TransportKind::IceUdp ? 1 : 0;
        assisted += added.transport() == TransportKind::Socks5 ? 1 : 0;
    }
    EXPECT_EQ(srflx, tc.srflx);
    EXPECT_EQ(assisted, tc.assisted);
    EXPECT_EQ(c.external_addresses().size(), 1U);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ExternalFindings,
    ::testing::Values(
        // Public: a guess per base of the family, one assisted candidate.
        ExternalCase{"203.0.113.7", nullptr, 2, 1}, ExternalCase{"2001:db8:1::7", nullptr, 1, 1},
        // An IPv4-mapped IPv6 address is the IPv4 address.
        ExternalCase{"::ffff:203.0.113.7", nullptr, 2, 1},
        // Private and carrier-grade: accepted (an inner NAT), the verdict notes them.
        ExternalCase{"10.1.2.3", nullptr, 2, 1}, ExternalCase{"100.64.0.1", nullptr, 2, 1},
        // A local address: no NAT, nothing derived, no error.
        ExternalCase{"198.51.100.10", nullptr, 0, 0},
        // Impossible: refused, and the source fails with the reason.
        ExternalCase{"0.0.0.0", "unspecified", 0, 0}, ExternalCase{"::", "unspecified", 0, 0},
        ExternalCase{"255.255.255.255", "broadcast", 0, 0},
        ExternalCase{"224.0.0.1", "multicast", 0, 0}, ExternalCase{"ff02::1", "multicast", 0, 0},
        ExternalCase{"240.0.0.1", "reserved", 0, 0}, ExternalCase{"0.1.2.3", "reserved", 0, 0},
        ExternalCase{"127.0.0.9", "loopback", 0, 0}, ExternalCase{"::1", "loopback", 0, 0},
        ExternalCase{"169.254.3.4", "link-local", 0, 0},
        ExternalCase{"fe80::1", "link-local", 0, 0}));

TEST(Combiner, TheSameExternalAddressTwiceIsRedundant) {
    Combiner c = make_combiner();
    ASSERT_TRUE(c.add_external(external("203.0.113.7")));
    auto again = c.add_external(external("203.0.113.7", "config"));
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->added.empty());
    ASSERT_EQ(again->dropped.size(), 3U); // two srflx guesses and the assisted one
    EXPECT_NE(again->dropped[0].reason.find("redundant"), std::string::npos);
}

TEST(Combiner, AVerifiedSrflxSupersedesAGuessAndAGuessAfterItIsNotNeeded) {
    Combiner c = make_combiner();
    ASSERT_TRUE(c.add_external(external("203.0.113.7")));
    const SourceCandidate mapped{
        IceType::Srflx, {*IpAddress::parse("203.0.113.7"), 5000}, 1, "198.51.100.1:3478", {}};
    auto verified = c.add_source_candidate("stun", mapped);
    ASSERT_TRUE(verified);
    ASSERT_EQ(verified->added.size(), 1U);
    ASSERT_EQ(verified->superseded.size(), 1U);
    EXPECT_EQ(verified->superseded[0].first.origin.source, "sic");
    EXPECT_EQ(verified->superseded[0].second.origin.source, "stun");
    EXPECT_EQ(count(c.ice(), IceType::Srflx), 2U) << "the verified one + the other base's guess";
    // A verified srflx ranks above every guess (RFC 8445 §5.1.2.2 equal type preference).
    const auto stun = std::find_if(c.ice().begin(), c.ice().end(),
                                   [](const Candidate& x) { return x.origin.source == "stun"; });
    for (const Candidate& x : c.ice()) {
        if (x.ice()->type == IceType::Srflx && x.origin.source == "sic") {
            EXPECT_GT(stun->priority, x.priority);
        }
    }
    auto late = c.add_external(external("203.0.113.7", "config"));
    ASSERT_TRUE(late);
    // Only the base STUN did not map gets a guess; the mapped one's is redundant with it.
    ASSERT_EQ(count(late->added, IceType::Srflx), 0U) << "the other base has the sic guess";
    const auto for_mapped_base =
        std::count_if(late->dropped.begin(), late->dropped.end(), [](const DroppedAddress& d) {
            return d.address == "203.0.113.7:5000" &&
                   d.reason.find("redundant with the srflx candidate from stun") !=
                       std::string::npos;
        });
    EXPECT_EQ(for_mapped_base, 1);
}

namespace {

struct SourceCase {
    const char* name;
    SourceCandidate found;
    const char* refusal; // substring of the error, or nullptr
    const char* dropped; // substring of the one drop when accepted without a candidate
};

SourceCandidate srflx(const char* ip, std::uint16_t port, std::size_t base) {
    return {IceType::Srflx, {*IpAddress::parse(ip), port}, base, "198.51.100.1:3478", {}};
}

void PrintTo(const SourceCase& c, std::ostream* out) {
    *out << c.name;
}

class SourceFindings : public ::testing::TestWithParam<SourceCase> {};

} // namespace

TEST_P(SourceFindings, AreCheckedAgainstTheirBase) {
    const SourceCase tc = GetParam();
    Combiner c = make_combiner();
    auto changes = c.add_source_candidate("stun", tc.found);
    if (tc.refusal) {
        ASSERT_FALSE(changes);
        EXPECT_NE(changes.error().message.find(tc.refusal), std::string::npos)
            << changes.error().message;
        return;
    }
    ASSERT_TRUE(changes) << changes.error().message;
    if (tc.dropped) {
        EXPECT_TRUE(changes->added.empty());
        ASSERT_EQ(changes->dropped.size(), 1U);
        EXPECT_NE(changes->dropped[0].reason.find(tc.dropped), std::string::npos);
    } else {
        ASSERT_EQ(changes->added.size(), 1U);
        EXPECT_EQ(changes->added[0].ice()->related, c.setup().bases[tc.found.base_index].address());
    }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SourceFindings,
    ::testing::Values(
        SourceCase{"mapping", srflx("203.0.113.7", 40000, 1), nullptr, nullptr},
        SourceCase{"ipv6_mapping", srflx("2001:db8:1::7", 40000, 0), nullptr, nullptr},
        SourceCase{"equal_to_base", srflx("192.0.2.10", 5000, 1), nullptr, "equals its base"},
        SourceCase{"wrong_family", srflx("2001:db8:1::7", 40000, 1),
                   "a mapping is of its base's family", nullptr},
        SourceCase{"unknown_base", srflx("203.0.113.7", 40000, 9), "does not exist", nullptr},
        SourceCase{"port_zero", srflx("203.0.113.7", 0, 1), "port 0", nullptr},
        SourceCase{"multicast", srflx("224.0.0.9", 40000, 1), "multicast", nullptr},
        SourceCase{"loopback", srflx("127.0.0.9", 40000, 1), "loopback", nullptr},
        SourceCase{"host_type",
                   {IceType::Host, {*IpAddress::parse("203.0.113.7"), 1}, 1, "x", {}},
                   "sources report srflx or relay",
                   nullptr}),
    [](const ::testing::TestParamInfo<SourceCase>& info) { return info.param.name; });

TEST(Combiner, VerdictNotesCarrierGradeAndPrivateExternals) {
    Combiner c = make_combiner();
    ASSERT_TRUE(c.add_external(external("100.64.0.1")));
    ASSERT_TRUE(c.add_external(external("10.1.2.3", "config")));
    const NetworkVerdict v = c.verdict();
    EXPECT_EQ(v.ipv4, NetworkVerdict::Nat::Nat);
    std::string notes;
    for (const auto& n : v.notes) {
        notes += n + "\n";
    }
    EXPECT_NE(notes.find("carrier-grade"), std::string::npos) << notes;
    EXPECT_NE(notes.find("private address"), std::string::npos) << notes;
}

// A base an ICE agent owns (libnice): its host candidate keeps the agent's numbers, a guess takes
// the agent's guessed local preference with the srflx type preference and a foundation of ours
// that cannot be one of the agent's, and an agent-made srflx keeps its numbers and supersedes
// the guess.
TEST(Combiner, AnAgentsNumbersAreKeptAndGuessesFitBelowThem) {
    CombinerSetup setup;
    Base base;
    base.local = test::local_address("192.0.2.10", "eth0", 2);
    base.port = 5000;
    base.local_preference = 65535;
    base.agent = AgentNumbers{2113937151, "1"};
    base.guessed_local_preference = 4096;
    const std::vector<Base> bases = {base};
    const std::vector<LocalAddress> addresses = {base.local};
    setup.bases = bases;
    setup.local_addresses = addresses;
    Combiner c(setup);
    const Changes hosts = c.add_hosts();
    ASSERT_EQ(hosts.added.size(), 1U);
    EXPECT_EQ(hosts.added[0].priority, 2113937151U);
    EXPECT_EQ(hosts.added[0].ice()->foundation, "1");

    auto guessed = c.add_external(external("203.0.113.7"));
    ASSERT_TRUE(guessed);
    ASSERT_EQ(guessed->added.size(), 1U);
    const Candidate& guess = guessed->added[0];
    EXPECT_EQ(guess.priority, jgather::detail::ice_priority(IceType::Srflx, 4096, 1));
    EXPECT_EQ(guess.ice()->foundation, "j1");
    EXPECT_EQ(guess.port, 5000);

    SourceCandidate agents{IceType::Srflx,
                           {*IpAddress::parse("203.0.113.7"), 40000},
                           0,
                           "198.51.100.1:3478",
                           AgentNumbers{1694498815, "3"}};
    auto verified = c.add_source_candidate("libnice", agents);
    ASSERT_TRUE(verified);
    ASSERT_EQ(verified->added.size(), 1U);
    EXPECT_EQ(verified->added[0].priority, 1694498815U);
    EXPECT_EQ(verified->added[0].ice()->foundation, "3");
    EXPECT_GT(verified->added[0].priority, guess.priority);
    ASSERT_EQ(verified->superseded.size(), 1U);
    EXPECT_EQ(verified->superseded[0].first.ice()->id, guess.ice()->id);
}

TEST(Combiner, WithoutAnAgentFoundationsAreDecimal) {
    Combiner c = make_combiner();
    EXPECT_EQ(c.ice()[0].ice()->foundation.find_first_not_of("0123456789"), std::string::npos);
}

TEST(Combiner, RelayKeepsTheMappingItsAllocationSawAsRelated) {
    Combiner c = make_combiner();
    const TransportAddress mapped{*IpAddress::parse("203.0.113.2"), 61000};
    auto changes = c.add_source_candidate(
        "libnice", {IceType::Relay, {*IpAddress::parse("203.0.113.1"), 50000}, 1,
                    "203.0.113.1:3478", std::nullopt, mapped});
    ASSERT_TRUE(changes) << changes.error().message;
    ASSERT_EQ(changes->added.size(), 1U);
    EXPECT_EQ(changes->added[0].ice()->related, mapped); // RFC 8445 §5.1.1.2
    auto plain = c.add_source_candidate(
        "libnice", {IceType::Relay, {*IpAddress::parse("203.0.113.1"), 50002}, 2,
                    "203.0.113.1:3478"});
    ASSERT_TRUE(plain);
    ASSERT_EQ(plain->added.size(), 1U);
    EXPECT_EQ(plain->added[0].ice()->related, c.setup().bases[2].address()); // unset: the base
    EXPECT_TRUE(c.verdict().relay);
}

TEST(Combiner, RelayOnlyAdvertisesRelaysAlone) {
    const LocalAddress v4 = test::local_address("192.0.2.10", "eth0", 2);
    CombinerSetup setup;
    const std::vector<Base> bases = {{v4, 1, 5000, 65535, {}, 0}};
    const std::vector<LocalAddress> addresses = {v4};
    setup.bases = bases;
    setup.local_addresses = addresses;
    setup.relay_only = true;
    Combiner c(setup);
    const Changes hosts = c.add_hosts();
    EXPECT_TRUE(hosts.added.empty());
    ASSERT_EQ(hosts.dropped.size(), 1U);
    EXPECT_NE(hosts.dropped[0].reason.find("relay-only"), std::string::npos);
    auto guess = c.add_external(external("203.0.113.2"));
    ASSERT_TRUE(guess);
    EXPECT_TRUE(guess->added.empty());
    EXPECT_EQ(c.external_addresses().size(), 1U); // still learned, for the verdict
    auto stun = c.add_source_candidate("stun", srflx("203.0.113.2", 5000, 0));
    ASSERT_TRUE(stun);
    EXPECT_TRUE(stun->added.empty());
    auto relay = c.add_source_candidate(
        "libnice", {IceType::Relay, {*IpAddress::parse("203.0.113.1"), 50000}, 0, "turn"});
    ASSERT_TRUE(relay);
    ASSERT_EQ(relay->added.size(), 1U);
    ASSERT_EQ(c.ice().size(), 1U);
    EXPECT_EQ(c.ice()[0].ice()->type, IceType::Relay);
}

TEST(Combiner, TwoServersSeeingTwoMappingsMeanEndpointDependentMapping) {
    Combiner c = make_combiner();
    ASSERT_TRUE(c.add_source_candidate("stun", srflx("203.0.113.2", 40000, 1)));
    EXPECT_FALSE(c.verdict().mapping_per_destination); // one server: cannot tell
    SourceCandidate other = srflx("203.0.113.2", 40001, 1);
    other.server = "198.51.100.2:3478";
    ASSERT_TRUE(c.add_source_candidate("stun", other));
    const NetworkVerdict verdict = c.verdict();
    ASSERT_TRUE(verdict.mapping_per_destination);
    EXPECT_TRUE(*verdict.mapping_per_destination);
    const bool said = std::any_of(verdict.notes.begin(), verdict.notes.end(), [](const auto& n) {
        return n.find("endpoint-dependent mapping") != std::string::npos &&
               n.find("none was gathered") != std::string::npos;
    });
    EXPECT_TRUE(said);
}

TEST(Combiner, AProxyIsOneProxyCandidateBelowEveryDirectOne) {
    Combiner combiner = make_combiner();
    const TransportAddress at{*IpAddress::parse("203.0.113.7"), 7777};
    auto added = combiner.add_proxy({"proxy.example.org", at, {"proxy65", "proxy.example.org"}});
    ASSERT_TRUE(added) << added.error().message;
    ASSERT_EQ(added->added.size(), 1u);
    const Candidate& proxy = added->added[0];
    EXPECT_EQ(proxy.s5b()->type, S5bType::Proxy);
    EXPECT_EQ(proxy.s5b()->jid, "proxy.example.org");
    EXPECT_FALSE(proxy.s5b()->cid.empty());
    EXPECT_EQ(proxy.host, "203.0.113.7");
    EXPECT_EQ(proxy.port, 7777);
    // XEP-0260 §2.2: type preference 10 in the high 16 bits.
    EXPECT_EQ(proxy.priority >> 16, 10u);
    EXPECT_EQ(combiner.s5b().back().s5b()->type, S5bType::Proxy);

    // The same address again: dropped as redundant, not a second candidate.
    auto again = combiner.add_proxy({"other.example.org", at, {"proxy65", "other"}});
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->added.empty());
    ASSERT_EQ(again->dropped.size(), 1u);
    EXPECT_NE(again->dropped[0].reason.find("redundant"), std::string::npos);
}

TEST(Combiner, AProxyWithoutJidPortOrReachableAddressIsRefused) {
    Combiner combiner = make_combiner();
    const auto refusal = [&](std::string jid, const char* ip, std::uint16_t port) {
        auto r = combiner.add_proxy({std::move(jid), {*IpAddress::parse(ip), port}, {"p", ""}});
        return r ? std::string() : r.error().message;
    };
    EXPECT_NE(refusal("", "203.0.113.7", 7777).find("without a JID"), std::string::npos);
    EXPECT_NE(refusal("p.example.org", "203.0.113.7", 0).find("without a port"), std::string::npos);
    EXPECT_NE(refusal("p.example.org", "0.0.0.0", 7777).find("no peer can reach"),
              std::string::npos);
    EXPECT_NE(refusal("p.example.org", "224.0.0.1", 7777).find("no peer can reach"),
              std::string::npos);
    EXPECT_TRUE(std::none_of(combiner.s5b().begin(), combiner.s5b().end(),
                             [](const Candidate& c) { return c.s5b()->type == S5bType::Proxy; }));
}

TEST(Combiner, AProxyWithoutSocks5GatheredIsDroppedWithTheReason) {
    CombinerSetup setup;
    setup.ice = true;
    Combiner combiner(setup);
    auto r = combiner.add_proxy(
        {"proxy.example.org", {*IpAddress::parse("203.0.113.7"), 7777}, {"proxy65", ""}});
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->added.empty());
    ASSERT_EQ(r->dropped.size(), 1u);
    EXPECT_NE(r->dropped[0].reason.find("SOCKS5 is not gathered"), std::string::npos);
}
