// Compiled with only include/ on the path and no GLib, libnice or gloox flags: proves the
// umbrella header stands alone and keeps third-party types out of the core API.
#include <jgather/jgather.hpp>

#ifdef G_BEGIN_DECLS
#error "the core API must not pull in GLib"
#endif
#ifdef GLOOX_API
#error "the core API must not pull in gloox"
#endif

#include <gtest/gtest.h>

TEST(PublicApi, UmbrellaHeaderStandsAlone) {
    jgather::GatherOptions options;
    EXPECT_EQ(options.deadline, jgather::kDefaultDeadline);
    EXPECT_TRUE(jgather::IpAddress::parse("192.0.2.1"));
    EXPECT_EQ(jgather::to_string(jgather::IceType::Srflx), "srflx");
}
