// The interface monitor inside a test namespace: addresses added and removed, an IPv6 address
// going deprecated, an interface going down; a gathering told of what concerns it, running or
// completed; one monitor per loop and namespace. Documentation ranges only (RFC 5737, 3849).
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <linux/rtnetlink.h>
#include <memory>
#include <net/if.h>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "network/interface_monitor.hpp"
#include "sources/server_health.hpp"
#include "support/glib_loop.hpp"
#include "support/netns.hpp"
#include "util/netns.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool has(const std::vector<LocalAddress>& list, const std::string& ip) {
    return std::any_of(list.begin(), list.end(),
                       [&](const LocalAddress& a) { return a.ip.to_string() == ip; });
}

const LocalAddress* find(const std::vector<LocalAddress>& list, const std::string& ip) {
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const LocalAddress& a) { return a.ip.to_string() == ip; });
    return it == list.end() ? nullptr : &*it;
}

// Adds @p ip/24 to the interface @p index of the thread's namespace with one rtnetlink request:
// no `ip` process, so well within InterfaceMonitor::kFresh of what ran just before. True once
// the kernel acknowledged it.
bool add_ipv4_now(const char* ip, unsigned index) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        return false;
    }
    struct {
        nlmsghdr header;
        ifaddrmsg address;
        std::array<char, 64> attributes;
    } request{};
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
    request.header.nlmsg_type = RTM_NEWADDR;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    request.address.ifa_family = AF_INET;
    request.address.ifa_prefixlen = 24;
    request.address.ifa_index = index;
    in_addr value{};
    ::inet_pton(AF_INET, ip, &value);
    for (const unsigned short type : {IFA_LOCAL, IFA_ADDRESS}) {
        auto* attribute = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&request) +
                                                    NLMSG_ALIGN(request.header.nlmsg_len));
        attribute->rta_type = type;
        attribute->rta_len = RTA_LENGTH(sizeof value);
        std::memcpy(RTA_DATA(attribute), &value, sizeof value);
        request.header.nlmsg_len = NLMSG_ALIGN(request.header.nlmsg_len) + attribute->rta_len;
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    bool acknowledged = false;
    if (::sendto(fd, &request, request.header.nlmsg_len, 0,
                 reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) >= 0) {
        alignas(nlmsghdr) std::array<char, 1024> answer{};
        const ssize_t got = ::recv(fd, answer.data(), answer.size(), 0);
        const auto* header = reinterpret_cast<const nlmsghdr*>(answer.data());
        acknowledged = got >= static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))) &&
                       header->nlmsg_type == NLMSG_ERROR &&
                       static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error == 0;
    }
    ::close(fd);
    return acknowledged;
}

// A namespace with two veth links, lan0 and lan1 (their peers in the same namespace), up.
// "lan" names: veth* would be classified as container plumbing and left out by default.
class NetworkChanges : public ::testing::Test {
protected:
    void SetUp() override {
        ns_ = std::make_unique<test::Netns>("netchg");
        ns_->ip({"link", "set", "lo", "up"});
        for (const char* n : {"0", "1"}) {
            ns_->ip({"link", "add", std::string("lan") + n, "type", "veth", "peer", "name",
                     std::string("lanp") + n});
            ns_->ip({"link", "set", std::string("lan") + n, "up"});
            ns_->ip({"link", "set", std::string("lanp") + n, "up"});
        }
        inside_ = std::make_unique<test::EnterNetns>(*ns_);
        loop_ = std::make_unique<test::TestLoop>();
    }
    void TearDown() override {
        loop_.reset();
        inside_.reset();
        ns_.reset();
    }

    // Starts a watch that collects every change.
    void watch() {
        auto started = NetworkWatch::start(loop_->loop(), [this](const NetworkChange& change) {
            changes_.push_back(change);
            seen_at_ = Clock::now();
        });
        ASSERT_TRUE(started) << started.error().message;
        watch_ = std::move(started.value());
    }

    // Runs `ip` and waits until a reported change satisfies @p test; prints how long it took.
    bool change_after(const std::vector<std::string>& ip_args,
                      const std::function<bool(const NetworkChange&)>& test) {
        const std::size_t before = changes_.size();
        const auto start = Clock::now();
        ns_->ip(ip_args);
        const bool seen = loop_->run_until(
            [&] {
                return std::any_of(changes_.begin() + static_cast<long>(before), changes_.end(),
                                   test);
            },
            5000ms);
        if (seen) {
            std::printf("  reported %.1f ms after `ip` returned\n",
                        std::chrono::duration<double, std::milli>(seen_at_ - start).count());
        }
        return seen;
    }

    std::unique_ptr<test::Netns> ns_;
    std::unique_ptr<test::EnterNetns> inside_;
    std::unique_ptr<test::TestLoop> loop_;
    std::unique_ptr<NetworkWatch> watch_;
    std::vector<NetworkChange> changes_;
    Clock::time_point seen_at_;
};

TEST_F(NetworkChanges, AnAddressAddedAndRemovedIsReported) {
    watch();
    EXPECT_FALSE(has(watch_->addresses(), "192.0.2.10"));
    ASSERT_TRUE(change_after({"addr", "add", "192.0.2.10/24", "dev", "lan0"},
                             [](const NetworkChange& c) { return has(c.added, "192.0.2.10"); }));
    const std::vector<LocalAddress> now = watch_->addresses();
    const LocalAddress* added = find(now, "192.0.2.10");
    ASSERT_NE(added, nullptr);
    EXPECT_EQ(added->interface, "lan0");
    EXPECT_EQ(added->prefix_length, 24u);
    ASSERT_TRUE(change_after({"addr", "del", "192.0.2.10/24", "dev", "lan0"},
                             [](const NetworkChange& c) { return has(c.removed, "192.0.2.10"); }));
    EXPECT_FALSE(has(watch_->addresses(), "192.0.2.10"));
}

TEST_F(NetworkChanges, AWatchMayBeDestroyedFromItsOwnCallback) {
    // Two watches on one monitor: the first destroys itself and the second from its callback;
    // neither is called again, and the monitor lives on for a third (ASan checks the rest).
    std::unique_ptr<NetworkWatch> first;
    std::unique_ptr<NetworkWatch> second;
    int first_calls = 0;
    int second_calls = 0;
    auto a = NetworkWatch::start(loop_->loop(), [&](const NetworkChange&) {
        ++first_calls;
        first.reset();
        second.reset();
    });
    auto b = NetworkWatch::start(loop_->loop(), [&](const NetworkChange&) { ++second_calls; });
    ASSERT_TRUE(a && b);
    first = std::move(a.value());
    second = std::move(b.value());
    watch(); // the third
    ASSERT_TRUE(change_after({"addr", "add", "192.0.2.30/24", "dev", "lan0"},
                             [](const NetworkChange& c) { return has(c.added, "192.0.2.30"); }));
    ASSERT_TRUE(change_after({"addr", "del", "192.0.2.30/24", "dev", "lan0"},
                             [](const NetworkChange& c) { return has(c.removed, "192.0.2.30"); }));
    EXPECT_EQ(first_calls, 1);
    EXPECT_EQ(second_calls, 0) << "destroyed before its turn: not called";
    EXPECT_EQ(first, nullptr);
}

TEST_F(NetworkChanges, AnIpv6AddressGoingDeprecatedIsAChange) {
    watch();
    ASSERT_TRUE(change_after({"-6", "addr", "add", "2001:db8:1::10/64", "dev", "lan0", "nodad"},
                             [](const NetworkChange& c) {
                                 const auto* a = find(c.added, "2001:db8:1::10");
                                 return a && !a->deprecated;
                             }));
    // RFC 4862 §5.5.4: a preferred lifetime of 0 deprecates the address at once.
    ASSERT_TRUE(change_after(
        {"-6", "addr", "change", "2001:db8:1::10/64", "dev", "lan0", "nodad", "preferred_lft", "0"},
        [](const NetworkChange& c) {
            const auto* a = find(c.changed, "2001:db8:1::10");
            return a && a->deprecated;
        }));
}

TEST_F(NetworkChanges, AnInterfaceGoingDownChangesItsAddresses) {
    watch();
    ASSERT_TRUE(change_after({"addr", "add", "198.51.100.10/24", "dev", "lan1"},
                             [](const NetworkChange& c) { return has(c.added, "198.51.100.10"); }));
    ASSERT_TRUE(change_after({"link", "set", "lan1", "down"}, [](const NetworkChange& c) {
        const auto* a = find(c.changed, "198.51.100.10");
        return a && !a->up;
    }));
    ASSERT_TRUE(change_after({"link", "set", "lan1", "up"}, [](const NetworkChange& c) {
        const auto* a = find(c.changed, "198.51.100.10");
        return a && a->up;
    }));
    // A link deleted takes its addresses with it.
    ASSERT_TRUE(change_after({"link", "del", "lan1"}, [](const NetworkChange& c) {
        return has(c.removed, "198.51.100.10");
    }));
}

TEST_F(NetworkChanges, AnAddressAddedJustBeforeAGatheringIsUsedWithoutALoopIteration) {
    watch(); // the monitor exists and has not read the notification yet when gather() runs
    ns_->ip({"addr", "add", "192.0.2.20/24", "dev", "lan0"});
    // A read that found nothing counts as current for kFresh (a burst of gatherings reads the
    // socket once): added longer ago than that, the address must be in the gathering itself.
    std::this_thread::sleep_for(detail::InterfaceMonitor::kFresh);
    GatherOptions options;
    Gatherer g(loop_->loop(), options);
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(loop_->run_until([&] { return g.complete(); }));
    EXPECT_TRUE(std::any_of(g.result().ice.begin(), g.result().ice.end(),
                            [](const Candidate& c) { return c.host == "192.0.2.20"; }));
}

TEST_F(NetworkChanges, AnAddressAddedWithinTheFreshWindowReachesTheGatheringAsAChange) {
    // gather() counts a netlink read that found nothing less than kFresh ago as current (a burst
    // reads the socket once). An address added inside that window is not lost: the gathering
    // either has it (the window had passed) or is told of it as a network change.
    ns_->ip({"addr", "add", "192.0.2.10/24", "dev", "lan0"});
    auto monitor = detail::InterfaceMonitor::of(loop_->loop());
    ASSERT_TRUE(monitor) << monitor.error().message;
    GatherOptions options;
    options.s5b = false;
    Gatherer g(loop_->loop(), options);
    bool told = false;
    g.on_network_change = [&](const NetworkChange& change) {
        told = told || has(change.added, "198.51.100.10");
    };
    const auto before = Clock::now();
    (void)(*monitor)->addresses(); // read to the end: the window opens
    ASSERT_TRUE(add_ipv4_now("198.51.100.10", ::if_nametoindex("lan0")));
    ASSERT_TRUE(g.gather());
    const bool inside_window = Clock::now() - before < detail::InterfaceMonitor::kFresh;
    const auto in_result = [&] {
        return std::any_of(g.result().ice.begin(), g.result().ice.end(),
                           [](const Candidate& c) { return c.host == "198.51.100.10"; });
    };
    ASSERT_TRUE(loop_->run_until([&] { return g.complete() && (in_result() || told); }, 5000ms))
        << "the address added " << (inside_window ? "inside" : "after") << " the window was lost";
    if (inside_window) {
        EXPECT_FALSE(in_result()) << "read again although the last read was fresh";
        EXPECT_TRUE(told);
    }
    for (const auto& socket : g.take_sockets()) {
        close(socket.fd);
    }
}

TEST_F(NetworkChanges, OneMonitorPerLoopAndNamespace) {
    auto first = detail::InterfaceMonitor::of(loop_->loop());
    auto second = detail::InterfaceMonitor::of(loop_->loop());
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->get(), second->get());
    test::TestLoop other_loop;
    auto other = detail::InterfaceMonitor::of(other_loop.loop());
    ASSERT_TRUE(other);
    EXPECT_NE(first->get(), other->get());
    {
        test::Netns elsewhere("netchg2");
        test::EnterNetns in_elsewhere(elsewhere);
        auto there = detail::InterfaceMonitor::of(loop_->loop());
        ASSERT_TRUE(there);
        EXPECT_NE(first->get(), there->get()) << "a monitor reports on its own namespace only";
    }
}

// A gathering on lan0 whose base goes away and where a usable address appears on lan0, while an
// address on the deny-listed lan1 is not news to it.
TEST_F(NetworkChanges, ACompletedGatheringIsToldWhatConcernsIt) {
    ns_->ip({"addr", "add", "192.0.2.10/24", "dev", "lan0"});
    GatherOptions options;
    options.host.deny_interfaces = {"lan1"};
    options.generation = 1;
    Gatherer g(loop_->loop(), options);
    std::vector<NetworkChange> told;
    g.on_network_change = [&](const NetworkChange& change) {
        told.push_back(change);
    };
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(loop_->run_until([&] { return g.complete(); }));
    ASSERT_FALSE(g.result().ice.empty());
    for (const Candidate& c : g.result().ice) {
        EXPECT_EQ(c.ice()->generation, 1u) << "GatherOptions::generation is written";
    }

    ns_->ip({"addr", "add", "203.0.113.10/24", "dev", "lan1"}); // deny-listed: no news
    ns_->ip({"addr", "add", "198.51.100.10/24", "dev", "lan0"});
    ASSERT_TRUE(loop_->run_until([&] { return !told.empty(); }, 5000ms));
    loop_->drain();
    ASSERT_EQ(told.size(), 1u);
    ASSERT_EQ(told[0].added.size(), 1u);
    EXPECT_EQ(told[0].added[0].ip.to_string(), "198.51.100.10");
    EXPECT_TRUE(told[0].removed.empty());

    ns_->ip({"addr", "del", "192.0.2.10/24", "dev", "lan0"});
    ASSERT_TRUE(loop_->run_until([&] { return told.size() == 2; }, 5000ms));
    ASSERT_EQ(told[1].removed.size(), 1u);
    EXPECT_EQ(told[1].removed[0].ip.to_string(), "192.0.2.10");
    EXPECT_TRUE(told[1].added.empty());
    for (const auto& s : g.take_sockets()) {
        close(s.fd);
    }
}

// A source that never finishes keeps the gathering running while its base goes.
class PendingSource final : public Source {
public:
    explicit PendingSource(bool& started) : started_(started) {}
    std::string name() const override { return "pending"; }
    void start(SourceSink&) override { started_ = true; }
    void stop() override {}

private:
    bool& started_;
};

TEST_F(NetworkChanges, ARunningGatheringIsToldAndMayBeDestroyedFromTheCallback) {
    ns_->ip({"addr", "add", "192.0.2.10/24", "dev", "lan0"});
    GatherOptions options;
    options.deadline = 10s;
    auto g = std::make_unique<Gatherer>(loop_->loop(), options);
    bool started = false;
    g->add_source(std::make_unique<PendingSource>(started));
    GatherPhase phase_when_told = GatherPhase::Idle;
    bool told = false;
    g->on_network_change = [&](const NetworkChange& change) {
        told = has(change.removed, "192.0.2.10");
        phase_when_told = g->phase();
        g.reset(); // allowed: nothing of the gatherer runs afterwards (ASan checks)
    };
    ASSERT_TRUE(g->gather());
    ASSERT_TRUE(loop_->run_until([&] { return started; }, 2000ms));
    ns_->ip({"addr", "del", "192.0.2.10/24", "dev", "lan0"});
    ASSERT_TRUE(loop_->run_until([&] { return told; }, 5000ms));
    EXPECT_EQ(phase_when_told, GatherPhase::Running);
    EXPECT_EQ(g, nullptr);
    loop_->drain();
}

// A child process with its stdout on a pipe, read line by line with a deadline; killed (by
// PID) and reaped on destruction.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv) {
        int fds[2];
        if (::pipe(fds) != 0) {
            throw std::runtime_error("pipe");
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, fds[0]);
        std::vector<char*> args;
        for (const std::string& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        // The child is created by this thread: it starts in the thread's network namespace.
        const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        out_ = fds[0];
        if (spawned != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start " + argv[0]);
        }
    }
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
    }
    // Reads until a line containing @p text has arrived (true) or @p limit passed (false).
    bool wait_for(const std::string& text, std::chrono::milliseconds limit = 5000ms) {
        const auto until = Clock::now() + limit;
        for (;;) {
            if (auto at = buffer_.find(text, consumed_); at != std::string::npos) {
                consumed_ = at + text.size();
                return true;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
            pollfd p{out_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                return false;
            }
            char chunk[4096];
            const ssize_t got = ::read(out_, chunk, sizeof chunk);
            if (got <= 0) {
                return false;
            }
            buffer_.append(chunk, static_cast<std::size_t>(got));
        }
    }
    // Sends SIGTERM and returns the exit status (-1 if it did not exit normally).
    int terminate() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    const std::string& output() const { return buffer_; }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string buffer_;
    std::size_t consumed_ = 0;
};

TEST_F(NetworkChanges, DemoWatchPrintsChangesAndGathersAgain) {
    const char* demo = std::getenv("JGATHER_DEMO");
    ASSERT_NE(demo, nullptr) << "meson passes JGATHER_DEMO";
    ns_->ip({"addr", "add", "192.0.2.10/24", "dev", "lan0"});
    Child child({demo, "--watch", "--ipv4", "--timeout", "1000"});
    ASSERT_TRUE(child.wait_for("192.0.2.10")) << child.output();
    ASSERT_TRUE(child.wait_for("Completed in")) << child.output();
    EXPECT_EQ(child.output().find("198.51.100.10"), std::string::npos);

    ns_->ip({"addr", "add", "198.51.100.10/24", "dev", "lan0"});
    ASSERT_TRUE(child.wait_for("Network change: added 198.51.100.10/24 on lan0")) << child.output();
    ASSERT_TRUE(child.wait_for("Gathering again: generation 1")) << child.output();
    ASSERT_TRUE(child.wait_for("198.51.100.10"))
        << "the new address is gathered: " << child.output();
    ASSERT_TRUE(child.wait_for("Completed in")) << child.output();

    ns_->ip({"addr", "del", "192.0.2.10/24", "dev", "lan0"});
    ASSERT_TRUE(child.wait_for("Network change: removed 192.0.2.10/24 on lan0")) << child.output();
    ASSERT_TRUE(child.wait_for("Gathering again: generation 2")) << child.output();
    ASSERT_TRUE(child.wait_for("Completed in")) << child.output();
    EXPECT_EQ(child.terminate(), 0) << child.output();
}

TEST_F(NetworkChanges, ANewAddressForgetsTheSilentServers) {
    watch(); // the loop's monitor is running
    auto& health = detail::ServerHealth::instance();
    const TransportAddress server = *TransportAddress::parse("192.0.2.99:3478");
    health.timed_out(detail::current_netns(), server, 30s);
    ASSERT_TRUE(health.silent(server));
    ns_->ip({"link", "set", "lan1", "down"}); // no address on it: nothing to report, yet a path
    ASSERT_TRUE(loop_->run_until([&] { return !health.silent(server); }, 5000ms))
        << "a link going down may change what answers";
    health.timed_out(detail::current_netns(), server, 30s);
    ASSERT_TRUE(change_after({"addr", "add", "192.0.2.10/24", "dev", "lan0"},
                             [](const NetworkChange& c) { return has(c.added, "192.0.2.10"); }));
    EXPECT_FALSE(health.silent(server)) << "a server silent from the old network may answer now";
}

// What a gathering's STUN source learns of a server belongs to the namespace its sockets are in
// (the thread's at gather()), not to wherever the thread is when the loop starts the source.
TEST_F(NetworkChanges, ASilentServerIsRememberedInTheGatheringsNamespace) {
    auto& health = detail::ServerHealth::instance();
    health.clear();
    ns_->ip({"addr", "add", "192.0.2.10/24", "dev", "lan0"});
    const auto here = detail::current_netns();
    StunOptions stun;
    stun.servers = {*TransportAddress::parse("192.0.2.10:9")}; // discard: nothing answers
    stun.final_wait = 200ms;
    stun.remember_silence = 30s;
    GatherOptions options;
    Gatherer g(loop_->loop(), options);
    g.add_source(std::make_unique<StunSource>(stun));
    ASSERT_TRUE(g.gather());
    {
        test::Netns elsewhere("netchg3");
        test::EnterNetns in_elsewhere(elsewhere); // the thread moves before the loop runs
        const auto there = detail::current_netns();
        ASSERT_NE(here, there);
        ASSERT_TRUE(loop_->run_until([&] { return g.complete(); }, 5000ms));
        const auto& stun_report = g.result().sources.back();
        EXPECT_EQ(stun_report.state, SourceState::TimedOut) << stun_report.error;
        EXPECT_TRUE(health.silent(here, stun.servers[0])) << "the gathering's namespace";
        EXPECT_FALSE(health.silent(there, stun.servers[0])) << "not the thread's of the moment";
    }
    health.clear();
}

TEST_F(NetworkChanges, AGenerationAboveAnUnsignedByteIsRefused) {
    GatherOptions options;
    options.generation = 256;
    Gatherer g(loop_->loop(), options);
    auto started = g.gather();
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("generation"), std::string::npos);
}

} // namespace
