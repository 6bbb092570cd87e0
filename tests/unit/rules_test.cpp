// Priorities and foundations against the worked numbers of RFC 8445 and XEP-0260.
#include <gtest/gtest.h>

#include "gatherer/rules.hpp"

using namespace jgather;
using namespace jgather::detail;

TEST(IcePriority, FollowsRfc8445Formula) {
    // RFC 8445 §5.1.2.1 with the recommended type preferences (§5.1.2.2).
    EXPECT_EQ(ice_priority(IceType::Host, 65535, 1), 126U * (1U << 24) + 65535U * 256U + 255U);
    EXPECT_EQ(ice_priority(IceType::Host, 65535, 1), 2130706431U); // the familiar maximum
    EXPECT_EQ(ice_priority(IceType::Host, 65535, 2), 2130706430U);
    EXPECT_EQ(ice_priority(IceType::Srflx, 65535, 1), 1694498815U);
    EXPECT_EQ(ice_priority(IceType::Prflx, 0, 1), 110U << 24 | 255U);
    EXPECT_EQ(ice_priority(IceType::Relay, 65535, 1), 16777215U);
}

TEST(IcePriority, OrdersTypesThenAddressesThenComponents) {
    EXPECT_GT(ice_priority(IceType::Host, 0, 256), ice_priority(IceType::Prflx, 65535, 1));
    EXPECT_GT(ice_priority(IceType::Prflx, 0, 256), ice_priority(IceType::Srflx, 65535, 1));
    EXPECT_GT(ice_priority(IceType::Srflx, 0, 256), ice_priority(IceType::Relay, 65535, 1));
    EXPECT_GT(ice_priority(IceType::Host, 65535, 2), ice_priority(IceType::Host, 65534, 1));
}

TEST(IcePriority, GuessedSrflxRanksBelowEveryVerifiedSrflx) {
    const auto worst_verified = ice_priority(IceType::Srflx, 32768, 256);
    for (std::uint16_t base : {65535, 65534, 40000}) {
        for (std::size_t slot : {0, 1, 7, 20}) {
            EXPECT_LT(ice_priority(IceType::Srflx, guessed_local_preference(base, slot), 1),
                      worst_verified);
        }
    }
    // Better base, better guess; earlier origin, better guess.
    EXPECT_GT(guessed_local_preference(65535, 0), guessed_local_preference(65534, 0));
    EXPECT_GT(guessed_local_preference(65535, 0), guessed_local_preference(65535, 1));
    EXPECT_EQ(guessed_local_preference(0, 0), 0); // far-off bases clamp, never wrap
}

TEST(S5bPriority, MatchesXep0260) {
    // XEP-0260 §2.2: 2^16 * type preference + local preference; its examples use 8257636
    // for a direct candidate with local preference 100.
    EXPECT_EQ(s5b_priority(S5bType::Direct, 100), 8257636U);
    EXPECT_EQ(s5b_priority(S5bType::Assisted, 0), 120U << 16);
    EXPECT_EQ(s5b_priority(S5bType::Tunnel, 0), 110U << 16);
    EXPECT_EQ(s5b_priority(S5bType::Proxy, 0), 10U << 16);
    EXPECT_GT(s5b_priority(S5bType::Direct, 0), s5b_priority(S5bType::Assisted, 65535));
}

TEST(Foundation, EqualExactlyWhenTypeBaseAndServerAreEqual) {
    FoundationTable table;
    const auto a = *IpAddress::parse("192.0.2.1");
    const auto b = *IpAddress::parse("192.0.2.2");
    const std::string host_a = table.get(IceType::Host, a, "");
    EXPECT_EQ(table.get(IceType::Host, a, ""), host_a);
    EXPECT_NE(table.get(IceType::Host, b, ""), host_a);
    EXPECT_NE(table.get(IceType::Srflx, a, "stun1"), host_a);
    EXPECT_NE(table.get(IceType::Srflx, a, "stun1"), table.get(IceType::Srflx, a, "stun2"));
    EXPECT_EQ(table.get(IceType::Srflx, a, "stun1"), table.get(IceType::Srflx, a, "stun1"));
    // 1-32 ice-chars (RFC 8445 §5.1.1.3).
    EXPECT_GE(host_a.size(), 1U);
    EXPECT_LE(host_a.size(), 32U);
}
