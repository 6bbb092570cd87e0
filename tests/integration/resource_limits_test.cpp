// Out of descriptors (RLIMIT_NOFILE lowered in this process, so that exactly as many sockets as
// the test wants can be opened): a resource error is an error with the system's message, never
// an "ok" gathering with nothing in it, nor a STUN failure that hides the real cause. Not in the
// unit suite: valgrind keeps descriptors of its own below the limit.
#include <cerrno>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "support/glib_loop.hpp"
#include "support/local_address.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

// Lowers the soft descriptor limit so that @p more descriptors can still be opened (the lowest
// free ones), and restores it on destruction.
class DescriptorLimit {
public:
    explicit DescriptorLimit(int more) {
        getrlimit(RLIMIT_NOFILE, &saved_);
        const int lowest_free = dup(0); // the kernel hands out the lowest free number
        close(lowest_free);
        rlimit lowered = saved_;
        lowered.rlim_cur = static_cast<rlim_t>(lowest_free + more);
        ok_ = setrlimit(RLIMIT_NOFILE, &lowered) == 0;
    }
    ~DescriptorLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }
    DescriptorLimit(const DescriptorLimit&) = delete;
    DescriptorLimit& operator=(const DescriptorLimit&) = delete;
    [[nodiscard]] bool ok() const { return ok_; }

private:
    rlimit saved_{};
    bool ok_ = false;
};

// IPv6 and IPv4 loopback as given addresses: no rtnetlink socket is opened to enumerate.
GatherOptions both_loopbacks() {
    GatherOptions o;
    o.host.include_loopback = true;
    o.host.addresses = std::vector<LocalAddress>{test::local_address("::1", "lo", 1),
                                                 test::local_address("127.0.0.1", "lo", 1)};
    return o;
}

const std::string kEmfile = std::strerror(EMFILE);

} // namespace

TEST(OutOfDescriptors, NoSocketAtAllFailsGatherWithTheSystemsMessage) {
    test::TestLoop loop;
    Gatherer gatherer(loop.loop(), both_loopbacks());
    Result<void> started = Error{"not run"};
    {
        DescriptorLimit none(0);
        ASSERT_TRUE(none.ok()) << std::strerror(errno);
        started = gatherer.gather();
    }
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("no UDP socket could be bound"), std::string::npos)
        << started.error().message;
    EXPECT_NE(started.error().message.find(kEmfile), std::string::npos) << started.error().message;
}

TEST(OutOfDescriptors, AFamilyLeftWithoutABaseIsSaidAndStunNamesTheRealCause) {
    test::TestLoop loop;
    Gatherer gatherer(loop.loop(), both_loopbacks());
    StunOptions stun;
    stun.servers = {*TransportAddress::parse("127.0.0.1:9")};
    gatherer.add_source(std::make_unique<StunSource>(stun));
    std::optional<GatherResult> result;
    gatherer.on_complete = [&](const GatherResult& r) {
        result = r;
    };
    {
        // One socket: the IPv6 base (RFC 8421 orders IPv6 first); the IPv4 one cannot be opened.
        DescriptorLimit one(1);
        ASSERT_TRUE(one.ok()) << std::strerror(errno);
        ASSERT_TRUE(gatherer.gather());
    }
    ASSERT_TRUE(loop.run_until([&] { return result.has_value(); }, 5s));
    ASSERT_EQ(result->ice.size(), 1U);
    EXPECT_EQ(result->ice[0].host, "::1");
    const SourceReport* host = nullptr;
    const SourceReport* stun_report = nullptr;
    for (const SourceReport& s : result->sources) {
        (s.name == "stun" ? stun_report : host) = &s;
    }
    ASSERT_NE(host, nullptr);
    ASSERT_NE(stun_report, nullptr);
    // The host source is ok with the base it has, and says which address it could not open.
    EXPECT_EQ(host->state, SourceState::Ok);
    EXPECT_NE(host->detail.find("not opened: 127.0.0.1"), std::string::npos) << host->detail;
    EXPECT_NE(host->detail.find(kEmfile), std::string::npos) << host->detail;
    // STUN fails at once, and its message carries the cause, not just "no base".
    EXPECT_EQ(stun_report->state, SourceState::Failed);
    EXPECT_NE(stun_report->error.find("no base of a STUN server's address family; 127.0.0.1 "
                                      "could not be opened: "),
              std::string::npos)
        << stun_report->error;
    EXPECT_NE(stun_report->error.find(kEmfile), std::string::npos) << stun_report->error;
}
