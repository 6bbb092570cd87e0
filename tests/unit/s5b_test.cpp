// The SOCKS5 connector and acceptor on loopback: the SOCKS5 messages, staggered attempts past
// black-holed candidates (a listener whose accept queue is full drops SYNs, as a firewall
// would), and each fault a clear error with nothing left open.
#include <arpa/inet.h>
#include <atomic>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <gtest/gtest.h>

#include <jgather/gatherer.hpp>
#include <jgather/glib.hpp>
#include <jgather/s5b.hpp>
#include <jgather/xep0260.hpp>

#include "s5b/socks5.hpp"
#include "support/glib_loop.hpp"
#include "support/process.hpp"
#include "util/unique_fd.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using detail::UniqueFd;
namespace socks5 = detail::socks5;

namespace {

const std::string kDst = xep0260::dstaddr("sid1", "a@example.org/x", "b@example.org/y");

Candidate candidate(std::string host, std::uint16_t port, std::uint32_t priority, std::string cid,
                    S5bType type = S5bType::Direct) {
    Candidate c;
    S5bFields fields;
    fields.cid = std::move(cid);
    fields.jid = "a@example.org/x";
    fields.type = type;
    c.fields = fields;
    c.host = std::move(host);
    c.port = port;
    c.priority = priority;
    return c;
}

std::uint16_t port_of(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return address.ss_family == AF_INET6
               ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
               : ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

UniqueFd listener(int backlog = 16, int family = AF_INET, int flags = SOCK_NONBLOCK) {
    UniqueFd fd(socket(family, SOCK_STREAM | flags | SOCK_CLOEXEC, 0));
    sockaddr_storage address{};
    socklen_t length;
    if (family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&address);
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *sin;
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&address);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        length = sizeof *sin6;
    }
    EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(listen(fd.get(), backlog), 0);
    return fd;
}

// A loopback port whose SYNs go unanswered: its listener's accept queue (backlog 0) holds one
// connection nobody accepts, so the kernel drops every further SYN (tcp_conn_request, "listen
// overflow"), as a firewall's DROP or a NAT without a mapping would.
struct BlackHole {
    UniqueFd listen_fd = listener(0);
    UniqueFd filler;
    BlackHole() {
        filler.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port_of(listen_fd.get()));
        EXPECT_EQ(connect(filler.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    }
    std::uint16_t port() const { return port_of(listen_fd.get()); }
};

// A port nobody listens on: connect() is refused at once.
std::uint16_t closed_port() {
    UniqueFd fd = listener();
    return port_of(fd.get()); // closed on return
}

// A scripted SOCKS5 peer, for what a real server never does: it answers the greeting and the
// request with the bytes it is given, on a thread of its own with blocking sockets.
class ScriptedServer {
public:
    ScriptedServer(std::string method_reply, std::string connect_reply)
        : fd_(listener()), port_(port_of(fd_.get())) {
        thread_ = std::thread([this, method_reply, connect_reply] {
            pollfd ready{fd_.get(), POLLIN, 0};
            if (poll(&ready, 1, 10000) != 1) {
                return;
            }
            UniqueFd peer(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            timeval limit{10, 0};
            setsockopt(peer.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
            char buffer[512];
            if (recv(peer.get(), buffer, 3, MSG_WAITALL) != 3) {
                return;
            }
            send(peer.get(), method_reply.data(), method_reply.size(), MSG_NOSIGNAL);
            if (connect_reply.empty()) {
                return;
            }
            const ssize_t got = recv(peer.get(), buffer, 7 + kDst.size(), MSG_WAITALL);
            request_.assign(buffer, got > 0 ? static_cast<std::size_t>(got) : 0);
            send(peer.get(), connect_reply.data(), connect_reply.size(), MSG_NOSIGNAL);
            // Hold the connection until the client closes it.
            (void)recv(peer.get(), buffer, sizeof buffer, 0);
        });
    }
    ~ScriptedServer() { thread_.join(); }
    std::uint16_t port() const { return port_; }
    std::string request() { return request_; }

private:
    UniqueFd fd_;
    std::uint16_t port_;
    std::string request_;
    std::thread thread_;
};

struct Dialer {
    test::TestLoop t;
    std::optional<s5b::ConnectReport> report;

    s5b::ConnectReport connect(std::vector<Candidate> candidates, s5b::ConnectOptions options) {
        s5b::Connector connector(t.loop(), std::move(candidates), std::move(options));
        connector.on_done = [this](s5b::ConnectReport r) {
            report = std::move(r);
        };
        const auto started = connector.start();
        EXPECT_TRUE(started) << (started ? "" : started.error().message);
        EXPECT_TRUE(t.run_until([&] { return report.has_value(); }, 20s));
        return report ? std::move(*report) : s5b::ConnectReport{};
    }
};

s5b::ConnectOptions options_with(std::chrono::milliseconds stagger = 100ms) {
    s5b::ConnectOptions options;
    options.dstaddr = kDst;
    options.stagger = stagger;
    return options;
}

std::string read_some(int fd, std::size_t size) {
    std::string out(size, '\0');
    pollfd ready{fd, POLLIN, 0};
    std::size_t have = 0;
    while (have < size && poll(&ready, 1, 5000) == 1) {
        const ssize_t got = recv(fd, out.data() + have, size - have, 0);
        if (got <= 0) {
            break;
        }
        have += static_cast<std::size_t>(got);
    }
    out.resize(have);
    return out;
}

} // namespace

// --- The messages (RFC 1928, XEP-0065 §5.3.2) -----------------------------------------------

TEST(Socks5Messages, ConnectIsADomainDstAddrWithPortZero) {
    const std::string request = socks5::connect_request(kDst);
    ASSERT_EQ(request.size(), 7 + kDst.size());
    EXPECT_EQ(request.substr(0, 5), std::string("\x05\x01\x00\x03\x28", 5));
    EXPECT_EQ(request.substr(5, 40), kDst);
    EXPECT_EQ(request.substr(45), std::string(2, '\0'));
    EXPECT_EQ(socks5::greeting(), std::string("\x05\x01\x00", 3));
}

TEST(Socks5Messages, LengthsAreKnownFromThePrefixSoNothingBehindIsRead) {
    EXPECT_EQ(socks5::greeting_length(""), 2u);
    EXPECT_EQ(socks5::greeting_length(std::string("\x05\x03", 2)), 5u);
    EXPECT_EQ(socks5::request_length("\x05"), 5u);
    EXPECT_EQ(socks5::request_length(std::string("\x05\x00\x00\x03\x28", 5)), 47u);
    EXPECT_EQ(socks5::request_length(std::string("\x05\x00\x00\x01\x7f", 5)), 10u);
    EXPECT_EQ(socks5::request_length(std::string("\x05\x00\x00\x04\x00", 5)), 22u);
}

TEST(Socks5Messages, ReadersNameWhatIsWrong) {
    EXPECT_NE(socks5::read_method_selection("HT").error().message.find("version byte 0x48"),
              std::string::npos);
    EXPECT_NE(socks5::read_method_selection(std::string("\x05\xff", 2))
                  .error()
                  .message.find("authentication"),
              std::string::npos);
    EXPECT_NE(socks5::read_greeting(std::string("\x05\x01\x02", 3)).error().message.find("0x00"),
              std::string::npos);
    EXPECT_TRUE(socks5::read_greeting(std::string("\x05\x02\x02\x00", 4)));
    EXPECT_NE(socks5::read_reply(socks5::reply(0x05, kDst), kDst)
                  .error()
                  .message.find("0x05 (connection refused)"),
              std::string::npos);
    EXPECT_NE(socks5::read_reply(socks5::reply(0x00, std::string(40, 'f')), kDst)
                  .error()
                  .message.find("not ours"),
              std::string::npos);
    EXPECT_TRUE(socks5::read_reply(socks5::reply(0x00, kDst), kDst));
    // An IPv4 BND.ADDR, which some servers send, is accepted.
    EXPECT_TRUE(
        socks5::read_reply(std::string("\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10), kDst));
    EXPECT_NE(socks5::read_reply(std::string("\x05\x00\x00\x09\x00", 5), kDst)
                  .error()
                  .message.find("address type 0x09"),
              std::string::npos);

    socks5::Request request;
    socks5::RequestError error;
    EXPECT_FALSE(
        socks5::read_request(std::string("\x05\x02\x00\x03\x00\x00\x00", 7), request, error));
    EXPECT_EQ(error.rep, socks5::kCommandNotSupported);
    EXPECT_FALSE(socks5::read_request(std::string("\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x00", 10),
                                      request, error));
    EXPECT_EQ(error.rep, socks5::kAddressTypeNotSupported);
    EXPECT_TRUE(socks5::read_request(socks5::connect_request(kDst), request, error));
    EXPECT_EQ(request.dstaddr, kDst);
}

// --- Connector and acceptor ---------------------------------------------------------------

TEST(S5b, ConnectorAndAcceptorOpenAStreamThatCarriesBytesBothWays) {
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    std::optional<s5b::AcceptedStream> accepted;
    acceptor.on_stream = [&](s5b::AcceptedStream stream) {
        accepted = std::move(stream);
    };

    const auto report =
        run.connect({candidate("127.0.0.1", acceptor.port(), 100, "c1")}, options_with());
    ASSERT_TRUE(report.winner) << report.error;
    ASSERT_TRUE(run.t.run_until([&] { return accepted.has_value(); }));
    EXPECT_EQ(accepted->dstaddr, kDst);
    EXPECT_EQ(accepted->peer.ip.to_string(), "127.0.0.1");
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::Connected);
    EXPECT_EQ(report.attempts[0].candidate.s5b()->cid, "c1");
    EXPECT_TRUE(report.error.empty());

    ASSERT_EQ(send(report.socket.fd(), "ping", 4, MSG_NOSIGNAL), 4);
    EXPECT_EQ(read_some(accepted->socket.fd(), 4), "ping");
    ASSERT_EQ(send(accepted->socket.fd(), "pong", 4, MSG_NOSIGNAL), 4);
    EXPECT_EQ(read_some(report.socket.fd(), 4), "pong");
}

TEST(S5b, OverIpv6Too) {
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener(16, AF_INET6).release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    const auto report = run.connect({candidate("::1", acceptor.port(), 100, "c6")}, options_with());
    ASSERT_TRUE(report.winner) << report.error;
}

TEST(S5b, ABlockingListenerDoesNotBlockTheLoop) {
    // Given a blocking listener, accept4() would block once the queue is drained: the acceptor
    // makes it non-blocking, so that the connector on the same loop still gets its answer.
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener(16, AF_INET, 0).release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    const auto report =
        run.connect({candidate("127.0.0.1", acceptor.port(), 100, "c")}, options_with());
    EXPECT_TRUE(report.winner) << report.error;
}

TEST(S5b, AHostNameIsResolvedWithGResolver) {
    // "localhost" (from /etc/hosts): 127.0.0.1, where the acceptor listens; ::1 too on some
    // machines, which is refused and gives way (the next test makes sure of that order).
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    auto options = options_with();
    options.resolve = glib::make_resolver(run.t.context());
    const auto report = run.connect({candidate("localhost", acceptor.port(), 1, "named")}, options);
    ASSERT_TRUE(report.winner) << report.error;
}

// A resolver of the test's own: it answers what it is told, from the loop, and counts its
// handles alive.
struct ScriptedResolver {
    test::TestLoop& t;
    std::optional<std::vector<IpAddress>> answer; // nullopt: never answers
    int alive = 0;

    class Handle final : public LoopHandle {
    public:
        Handle(int& alive, std::unique_ptr<LoopHandle> timer)
            : alive_(alive), timer_(std::move(timer)) {
            ++alive_;
        }
        ~Handle() override { --alive_; }

    private:
        int& alive_;
        std::unique_ptr<LoopHandle> timer_;
    };

    s5b::Resolver resolver() {
        return [this](const std::string&, auto done) -> std::unique_ptr<LoopHandle> {
            std::unique_ptr<LoopHandle> timer;
            if (answer) {
                timer = t.loop().call_after(0ms, [this, done] { done(*answer, "NXDOMAIN"); });
            }
            return std::make_unique<Handle>(alive, std::move(timer));
        };
    }
};

TEST(S5b, AHostNameThatDoesNotResolveFailsWithTheResolversReason) {
    Dialer run;
    ScriptedResolver resolver{run.t, std::vector<IpAddress>{}};
    auto options = options_with();
    options.resolve = resolver.resolver();
    const auto report = run.connect({candidate("nowhere.example", 5000, 1, "n")}, options);
    ASSERT_FALSE(report.winner);
    EXPECT_NE(report.attempts[0].reason.find("\"nowhere.example\" did not resolve: NXDOMAIN"),
              std::string::npos)
        << report.attempts[0].reason;
    EXPECT_EQ(resolver.alive, 0);
}

TEST(S5b, AResolvedAddressThatRefusesGivesWayToTheNext) {
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener().release())); // 127.0.0.1 only
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    ScriptedResolver resolver{
        run.t, std::vector<IpAddress>{*IpAddress::parse("::1"), *IpAddress::parse("127.0.0.1")}};
    auto options = options_with();
    options.resolve = resolver.resolver();
    const auto report = run.connect({candidate("proxy.example", acceptor.port(), 1, "p")}, options);
    ASSERT_TRUE(report.winner) << report.error;
    EXPECT_EQ(resolver.alive, 0);
}

TEST(S5b, AResolverThatNeverAnswersIsBoundByTheAttemptTimeoutAndCancelled) {
    Dialer run;
    ScriptedResolver resolver{run.t, std::nullopt};
    auto options = options_with();
    options.resolve = resolver.resolver();
    options.attempt_timeout = 200ms;
    const auto report = run.connect({candidate("slow.example", 5000, 1, "n")}, options);
    ASSERT_FALSE(report.winner);
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::TimedOut);
    EXPECT_EQ(resolver.alive, 0); // the lookup's handle was destroyed: cancelled
}

TEST(S5b, DataSentWithTheReplyIsLeftForTheApplication) {
    // The server's reply and its first data arrive in one segment: the connector must read the
    // reply exactly and leave "DATA" in the socket.
    ScriptedServer server(std::string("\x05\x00", 2), socks5::reply(0, kDst) + "DATA");
    Dialer run;
    const auto report =
        run.connect({candidate("127.0.0.1", server.port(), 1, "c")}, options_with());
    ASSERT_TRUE(report.winner) << report.error;
    EXPECT_EQ(read_some(report.socket.fd(), 4), "DATA");
    EXPECT_EQ(server.request(), socks5::connect_request(kDst));
}

TEST(S5b, BlackHoledCandidatesAheadCostOneStaggerStepEach) {
    BlackHole first;
    BlackHole second;
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    constexpr auto kStagger = 150ms;
    // Given out of order: priority decides.
    const auto report = run.connect({candidate("127.0.0.1", acceptor.port(), 10, "working"),
                                     candidate("127.0.0.1", first.port(), 30, "dead1"),
                                     candidate("127.0.0.1", second.port(), 20, "dead2")},
                                    options_with(kStagger));
    ASSERT_TRUE(report.winner) << report.error;
    ASSERT_EQ(report.attempts.size(), 3u);
    EXPECT_EQ(report.attempts[0].candidate.s5b()->cid, "dead1");
    EXPECT_EQ(report.attempts[1].candidate.s5b()->cid, "dead2");
    EXPECT_EQ(*report.winner, 2u);
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::Abandoned);
    EXPECT_EQ(report.attempts[1].result, s5b::AttemptResult::Abandoned);
    EXPECT_GE(report.attempts[1].started, kStagger);
    EXPECT_GE(report.attempts[2].started, 2 * kStagger);
    // Two stagger steps and a loopback handshake; TCP's first SYN retry alone would be 1 s.
    EXPECT_GE(report.elapsed, 2 * kStagger);
    EXPECT_LT(report.elapsed, 2 * kStagger + 200ms);
}

TEST(S5b, ARefusedCandidateStartsTheNextAtOnce) {
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    const auto report = run.connect({candidate("127.0.0.1", closed_port(), 20, "refused"),
                                     candidate("127.0.0.1", acceptor.port(), 10, "working")},
                                    options_with(2000ms));
    ASSERT_TRUE(report.winner) << report.error;
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::Failed);
    EXPECT_NE(report.attempts[0].reason.find("Connection refused"), std::string::npos);
    EXPECT_LT(report.elapsed, 1000ms); // not the 2 s stagger
}

TEST(S5b, AllDeadIsOneErrorNamingEveryCandidateAndLeavesNothingOpen) {
    const int fds_before = test::open_fds();
    {
        BlackHole hole;
        Dialer run;
        const int fds_with_hole = test::open_fds(); // and the loop's own
        auto options = options_with(50ms);
        options.attempt_timeout = 300ms;
        const auto report = run.connect({candidate("127.0.0.1", closed_port(), 3, "refused"),
                                         candidate("127.0.0.1", hole.port(), 2, "hole"),
                                         candidate("peer.example.org", 5000, 1, "named")},
                                        options);
        EXPECT_FALSE(report.winner);
        EXPECT_FALSE(report.socket);
        EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::Failed);
        EXPECT_EQ(report.attempts[1].result, s5b::AttemptResult::TimedOut);
        EXPECT_EQ(report.attempts[2].result, s5b::AttemptResult::Failed);
        EXPECT_NE(report.attempts[2].reason.find("not a literal IP"), std::string::npos);
        EXPECT_NE(report.error.find("refused"), std::string::npos) << report.error;
        EXPECT_NE(report.error.find("timed-out (no connection and SOCKS5 handshake within 300 ms)"),
                  std::string::npos)
            << report.error;
        EXPECT_NE(report.error.find("peer.example.org:5000 failed"), std::string::npos)
            << report.error;
        EXPECT_GE(report.elapsed, 300ms);
        EXPECT_LT(report.elapsed, 1000ms);
        run.t.drain();
        EXPECT_EQ(test::open_fds(), fds_with_hole);
    }
    EXPECT_EQ(test::open_fds(), fds_before);
}

TEST(S5b, TheDeadlineEndsWhatIsPendingAndSkipsTheRest) {
    BlackHole a;
    BlackHole b;
    Dialer run;
    auto options = options_with(400ms);
    options.deadline = 200ms;
    const auto report = run.connect(
        {candidate("127.0.0.1", a.port(), 2, "a"), candidate("127.0.0.1", b.port(), 1, "b")},
        options);
    EXPECT_FALSE(report.winner);
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::TimedOut);
    EXPECT_NE(report.attempts[0].reason.find("deadline of 200 ms"), std::string::npos);
    EXPECT_EQ(report.attempts[1].result, s5b::AttemptResult::NotTried);
    EXPECT_LT(report.elapsed, 400ms);
}

TEST(S5b, StopEndsPendingAttemptsAtOnceAndReportsWhy) {
    test::TestLoop t;
    const int fds_before = test::open_fds();
    {
        BlackHole a;
        BlackHole b;
        const int fds_with_holes = test::open_fds();
        std::optional<s5b::ConnectReport> report;
        int reports = 0;
        s5b::Connector connector(
            t.loop(),
            {candidate("127.0.0.1", a.port(), 2, "a"), candidate("127.0.0.1", b.port(), 1, "b")},
            options_with(400ms));
        connector.on_done = [&](s5b::ConnectReport r) {
            report = std::move(r);
            ++reports;
        };
        connector.stop("not started"); // nothing to stop yet: no report
        ASSERT_TRUE(connector.start());
        (void)t.run_until([] { return false; }, 100ms); // "a" starts and hangs
        connector.stop("the peer connected to ours");
        EXPECT_FALSE(report) << "reported inside stop(), not from the loop";
        ASSERT_TRUE(t.run_until([&] { return report.has_value(); }, 1s));
        EXPECT_FALSE(report->winner);
        EXPECT_EQ(report->attempts[0].result, s5b::AttemptResult::Abandoned);
        EXPECT_EQ(report->attempts[0].reason, "the peer connected to ours");
        EXPECT_EQ(report->attempts[1].result, s5b::AttemptResult::NotTried);
        EXPECT_EQ(report->attempts[1].reason, "the peer connected to ours");
        EXPECT_LT(report->elapsed, 400ms);
        EXPECT_NE(report->error.find("the peer connected to ours"), std::string::npos);
        EXPECT_EQ(test::open_fds(), fds_with_holes); // the attempt's socket is closed
        connector.stop("again");                     // after the end: nothing
        (void)t.run_until([] { return false; }, 50ms);
        EXPECT_EQ(reports, 1);
    }
    EXPECT_EQ(test::open_fds(), fds_before);
}

TEST(S5b, GarbageFromTheServerIsAFailureThatSaysSo) {
    ScriptedServer server("HTTP/1.1 400 Bad Request\r\n\r\n", "");
    Dialer run;
    const auto report =
        run.connect({candidate("127.0.0.1", server.port(), 1, "c")}, options_with());
    ASSERT_FALSE(report.winner);
    EXPECT_EQ(report.attempts[0].result, s5b::AttemptResult::Failed);
    EXPECT_NE(report.attempts[0].reason.find("not SOCKS5 (version byte 0x48)"), std::string::npos)
        << report.attempts[0].reason;
}

TEST(S5b, AServerThatWantsAuthenticationIsRefused) {
    ScriptedServer server(std::string("\x05\xff", 2), "");
    Dialer run;
    const auto report =
        run.connect({candidate("127.0.0.1", server.port(), 1, "c")}, options_with());
    ASSERT_FALSE(report.winner);
    EXPECT_NE(report.attempts[0].reason.find("wants authentication"), std::string::npos);
}

TEST(S5b, AServerThatConfirmsAnotherDstAddrIsRefused) {
    ScriptedServer server(std::string("\x05\x00", 2), socks5::reply(0, std::string(40, 'a')));
    Dialer run;
    const auto report =
        run.connect({candidate("127.0.0.1", server.port(), 1, "c")}, options_with());
    ASSERT_FALSE(report.winner);
    EXPECT_NE(report.attempts[0].reason.find("not ours"), std::string::npos);
}

TEST(S5b, ADstAddrMismatchIsRefusedOnBothSides) {
    Dialer run;
    s5b::Acceptor acceptor(run.t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(xep0260::dstaddr("other", "a@example.org/x", "b@example.org/y")));
    std::vector<s5b::RejectedConnection> rejected;
    acceptor.on_rejected = [&](const s5b::RejectedConnection& r) {
        rejected.push_back(r);
    };
    bool streamed = false;
    acceptor.on_stream = [&](s5b::AcceptedStream) {
        streamed = true;
    };
    const auto report =
        run.connect({candidate("127.0.0.1", acceptor.port(), 1, "c")}, options_with());
    ASSERT_FALSE(report.winner);
    EXPECT_NE(report.attempts[0].reason.find("0x02 (connection not allowed by ruleset)"),
              std::string::npos)
        << report.attempts[0].reason;
    ASSERT_TRUE(run.t.run_until([&] { return !rejected.empty(); }));
    EXPECT_NE(rejected[0].reason.find("is not expected"), std::string::npos);
    EXPECT_FALSE(streamed);

    // Once expected it connects; forget() closes the door again.
    ASSERT_TRUE(acceptor.expect(kDst));
    run.report.reset();
    const auto expected =
        run.connect({candidate("127.0.0.1", acceptor.port(), 1, "c")}, options_with());
    EXPECT_TRUE(expected.winner) << expected.error;
    acceptor.forget(kDst);
    run.report.reset();
    const auto forgotten =
        run.connect({candidate("127.0.0.1", acceptor.port(), 1, "c")}, options_with());
    EXPECT_FALSE(forgotten.winner);
}

TEST(S5b, TheAcceptorAnswersWhatItCannotServeAndClosesSilentConnections) {
    test::TestLoop t;
    s5b::AcceptOptions options;
    options.handshake_timeout = 200ms;
    s5b::Acceptor acceptor(t.loop(), s5b::Socket(listener().release()), options);
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    std::vector<std::string> reasons;
    acceptor.on_rejected = [&](const s5b::RejectedConnection& r) {
        reasons.push_back(r.reason);
    };

    auto dial = [&] {
        UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(acceptor.port());
        EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
        return fd;
    };
    // Only username/password offered: X'FF' (RFC 1928 §3).
    UniqueFd auth = dial();
    send(auth.get(), "\x05\x01\x02", 3, MSG_NOSIGNAL);
    // BIND instead of CONNECT: REP 0x07.
    UniqueFd bind_cmd = dial();
    send(bind_cmd.get(), "\x05\x01\x00", 3, MSG_NOSIGNAL);
    const std::string bind_request = "\x05\x02" + socks5::connect_request(kDst).substr(2);
    send(bind_cmd.get(), bind_request.data(), bind_request.size(), MSG_NOSIGNAL);
    // Says nothing at all: closed after the handshake timeout.
    UniqueFd silent = dial();

    ASSERT_TRUE(t.run_until([&] { return reasons.size() == 3; }, 5s));
    EXPECT_EQ(read_some(auth.get(), 2), std::string("\x05\xff", 2));
    const std::string bind_reply = read_some(bind_cmd.get(), 4);
    EXPECT_EQ(read_some(bind_cmd.get(), 0), "");
    ASSERT_GE(bind_reply.size(), 2u);
    EXPECT_EQ(bind_reply.substr(0, 2), std::string("\x05\x00", 2)); // the method selection
    const std::string all = reasons[0] + "|" + reasons[1] + "|" + reasons[2];
    EXPECT_NE(all.find("does not offer \"no authentication\""), std::string::npos) << all;
    EXPECT_NE(all.find("command 0x02 is not CONNECT"), std::string::npos) << all;
    EXPECT_NE(all.find("within 200 ms"), std::string::npos) << all;
}

TEST(S5b, TheAcceptorBoundsConnectionsInTheirHandshake) {
    test::TestLoop t;
    s5b::AcceptOptions options;
    options.max_pending = 2;
    s5b::Acceptor acceptor(t.loop(), s5b::Socket(listener().release()), options);
    ASSERT_TRUE(acceptor.start());
    std::vector<std::string> reasons;
    acceptor.on_rejected = [&](const s5b::RejectedConnection& r) {
        reasons.push_back(r.reason);
    };
    std::vector<UniqueFd> dialled;
    for (int i = 0; i < 3; ++i) {
        dialled.emplace_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(acceptor.port());
        ASSERT_EQ(connect(dialled.back().get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    }
    ASSERT_TRUE(t.run_until([&] { return !reasons.empty(); }, 5s));
    EXPECT_NE(reasons[0].find("more than 2 connections"), std::string::npos);
}

TEST(S5b, OutOfDescriptorsTheAcceptorWaitsInsteadOfSpinning) {
    test::TestLoop t;
    s5b::Acceptor acceptor(t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    std::optional<s5b::AcceptedStream> accepted;
    acceptor.on_stream = [&](s5b::AcceptedStream stream) {
        accepted = std::move(stream);
    };
    // A client whose connection waits in the accept queue, its whole handshake sent.
    UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(acceptor.port());
    ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    const std::string hello = socks5::greeting() + socks5::connect_request(kDst);
    ASSERT_EQ(send(client.get(), hello.data(), hello.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(hello.size()));

    // No descriptor left: accept4() fails with EMFILE while the listener stays readable.
    rlimit old{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    const int lowest_free = dup(0);
    ASSERT_GE(lowest_free, 0);
    close(lowest_free);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(lowest_free);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    rusage before{};
    getrusage(RUSAGE_THREAD, &before);
    t.run_until([] { return false; }, 300ms);
    rusage after{};
    getrusage(RUSAGE_THREAD, &after);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    const auto cpu_us = [](const rusage& r) {
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec +
               r.ru_stime.tv_usec;
    };
    // A spinning watch would burn the whole 300 ms.
    EXPECT_LT(cpu_us(after) - cpu_us(before), 100000L);
    EXPECT_FALSE(accepted);

    // Descriptors back: the waiting connection is accepted and answered. Not under valgrind,
    // which emulates RLIMIT_NOFILE: its accept4() takes the connection from the kernel and
    // closes it before it answers EMFILE, so the client is gone by now.
    if (RUNNING_ON_VALGRIND) {
        return;
    }
    ASSERT_TRUE(t.run_until([&] { return accepted.has_value(); }, 2s));
    EXPECT_EQ(read_some(client.get(), 2 + socks5::reply(0, kDst).size()),
              socks5::method_selection(0) + socks5::reply(0, kDst));
}

TEST(S5b, StartRefusesWhatCannotWork) {
    test::TestLoop t;
    auto start = [&](std::vector<Candidate> candidates, s5b::ConnectOptions options) {
        s5b::Connector connector(t.loop(), std::move(candidates), std::move(options));
        auto started = connector.start();
        return started ? std::string() : started.error().message;
    };
    auto options = options_with();
    options.dstaddr = "short";
    EXPECT_NE(start({candidate("127.0.0.1", 1, 1, "c")}, options).find("40 characters"),
              std::string::npos);
    EXPECT_NE(start({}, options_with()).find("no SOCKS5 candidate"), std::string::npos);
    Candidate ice;
    ice.host = "127.0.0.1";
    ice.port = 1;
    EXPECT_NE(start({ice}, options_with()).find("no SOCKS5 candidate"), std::string::npos);
    options = options_with();
    options.stagger = 0ms;
    EXPECT_NE(start({candidate("127.0.0.1", 1, 1, "c")}, options).find("positive"),
              std::string::npos);

    s5b::Acceptor not_listening(t.loop(), s5b::Socket(socket(AF_INET, SOCK_STREAM, 0)));
    EXPECT_FALSE(not_listening.start());
    s5b::Acceptor acceptor(t.loop(), s5b::Socket(listener().release()));
    EXPECT_FALSE(acceptor.expect("short"));
}

TEST(S5b, DestroyedFromItsOwnCallbacks) {
    test::TestLoop t;
    auto acceptor = std::make_unique<s5b::Acceptor>(t.loop(), s5b::Socket(listener().release()));
    ASSERT_TRUE(acceptor->start());
    ASSERT_TRUE(acceptor->expect(kDst));
    const std::uint16_t port = acceptor->port();
    int streams = 0;
    acceptor->on_stream = [&](s5b::AcceptedStream) {
        ++streams;
        acceptor.reset(); // with another stream still queued behind this one
    };
    std::vector<std::unique_ptr<s5b::Connector>> connectors;
    int done = 0;
    for (int i = 0; i < 2; ++i) {
        connectors.push_back(std::make_unique<s5b::Connector>(
            t.loop(), std::vector<Candidate>{candidate("127.0.0.1", port, 1, "c")},
            options_with()));
        connectors.back()->on_done = [&connectors, &done, i](s5b::ConnectReport) {
            ++done;
            connectors[static_cast<std::size_t>(i)].reset();
        };
        ASSERT_TRUE(connectors.back()->start());
    }
    ASSERT_TRUE(t.run_until([&] { return done == 2 && !acceptor; }));
    EXPECT_EQ(streams, 1);
    t.drain();
}

TEST(S5b, DestroyedWhileAttemptsArePendingItClosesThemAndStaysSilent) {
    const int fds_before = test::open_fds();
    test::TestLoop t;
    BlackHole hole;
    const int fds_with_hole = test::open_fds();
    bool called = false;
    {
        s5b::Connector connector(t.loop(), {candidate("127.0.0.1", hole.port(), 1, "c")},
                                 options_with());
        connector.on_done = [&](s5b::ConnectReport) {
            called = true;
        };
        ASSERT_TRUE(connector.start());
        t.run_until([] { return false; }, 100ms);
        EXPECT_EQ(test::open_fds(), fds_with_hole + 1); // the pending attempt
    }
    t.run_until([] { return false; }, 50ms);
    EXPECT_FALSE(called);
    EXPECT_EQ(test::open_fds(), fds_with_hole);
    (void)fds_before;
}

TEST(S5b, TheGatherersListenerServesItsDirectCandidates) {
    test::TestLoop t;
    GatherOptions options;
    options.ice = false;
    options.s5b = true;
    options.jid = "a@example.org/x";
    options.host.include_loopback = true;
    options.host.ipv6 = false;
    LocalAddress lo;
    lo.ip = *IpAddress::parse("127.0.0.1");
    lo.interface = "lo";
    lo.interface_index = 1;
    options.host.addresses = std::vector<LocalAddress>{lo};
    Gatherer gatherer(t.loop(), options);
    bool complete = false;
    gatherer.on_complete = [&](const GatherResult&) {
        complete = true;
    };
    ASSERT_TRUE(gatherer.gather());
    ASSERT_TRUE(t.run_until([&] { return complete; }));
    ASSERT_FALSE(gatherer.result().s5b.empty());
    const std::vector<Candidate> offered = gatherer.result().s5b;

    s5b::Acceptor acceptor(t.loop(), s5b::Socket(gatherer.take_s5b_listener()));
    ASSERT_TRUE(acceptor.start());
    ASSERT_TRUE(acceptor.expect(kDst));
    bool streamed = false;
    acceptor.on_stream = [&](s5b::AcceptedStream) {
        streamed = true;
    };
    std::optional<s5b::ConnectReport> report;
    s5b::Connector connector(t.loop(), offered, options_with());
    connector.on_done = [&](s5b::ConnectReport r) {
        report = std::move(r);
    };
    ASSERT_TRUE(connector.start());
    ASSERT_TRUE(t.run_until([&] { return report && streamed; }));
    ASSERT_TRUE(report->winner) << report->error;
    EXPECT_EQ(report->attempts[*report->winner].candidate.s5b()->type, S5bType::Direct);
}
