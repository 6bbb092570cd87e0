// The demo as a user runs it: with an XMPP server that accepts the TCP connection and then says
// nothing, the host candidates are printed at once and the run ends by --timeout, Server IP
// Check reported timed-out (issue 8: host candidates never wait for XMPP).
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

// A TCP listener on 127.0.0.1 that never accepts: the kernel completes the handshake, the
// client's stream header goes unanswered.
class SilentServer {
public:
    SilentServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd_, 4), 0);
        socklen_t length = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length);
        port_ = ntohs(a.sin_port);
    }
    ~SilentServer() { ::close(fd_); }
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;
    [[nodiscard]] int port() const { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

struct DemoRun {
    std::string out; // stderr then stdout, as the demo wrote them (2>&1)
    int status = -1;
    std::chrono::milliseconds took{0};
};

DemoRun run_program(const char* variable, const char* fallback, const std::string& flags) {
    const char* program = std::getenv(variable);
    EXPECT_NE(program, nullptr) << "meson passes " << variable;
    const std::string command = std::string(program ? program : fallback) + " " + flags + " 2>&1";
    const auto start = std::chrono::steady_clock::now();
    DemoRun run;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) {
        return run;
    }
    char buffer[4096];
    std::size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
        run.out.append(buffer, got);
    }
    const int status = ::pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    return run;
}

DemoRun run_demo(const std::string& flags) {
    return run_program("JGATHER_DEMO", "jgather-demo", flags);
}

DemoRun run_call(const std::string& flags) {
    return run_program("JGATHER_CALL", "jgather-call", flags);
}

} // namespace

TEST(Demo, AnXmppServerThatNeverAnswersDelaysNothingAndTheRunEndsByItsTimeout) {
    SilentServer server;
    const DemoRun run = run_demo("--jid romeo@example.org --password secret --xmpp-host 127.0.0.1 "
                                 "--xmpp-port " +
                                 std::to_string(server.port()) +
                                 " --xmpp-insecure --loopback --ipv4 --timeout 700 --format json");
    EXPECT_EQ(run.status, 0) << run.out;
    // The XMPP connect timeout is 10 s; the gathering's deadline is what ends the run.
    EXPECT_LT(run.took, std::chrono::milliseconds(2500)) << run.out;
    // The first line is a host candidate, printed at once (ms since start in brackets).
    const auto first_line = run.out.substr(0, run.out.find('\n'));
    EXPECT_NE(first_line.find("ice-udp host"), std::string::npos) << run.out;
    const double at_ms = std::atof(first_line.c_str() + 1);
    EXPECT_LT(at_ms, 200.0) << first_line;
    EXPECT_NE(run.out.find("\"name\": \"sic\", \"status\": \"timed-out\""), std::string::npos)
        << run.out;
}

TEST(Demo, AnUnreachableXmppServerFailsOnlyServerIpCheck) {
    int port = 0;
    {
        SilentServer closed; // bound, then closed: a port nobody listens on
        port = closed.port();
    }
    const DemoRun run = run_demo("--jid romeo@example.org --password secret --xmpp-host 127.0.0.1 "
                                 "--xmpp-port " +
                                 std::to_string(port) +
                                 " --xmpp-insecure --loopback --ipv4 --timeout 3000 --format json");
    EXPECT_EQ(run.status, 0) << run.out;
    EXPECT_LT(run.took, std::chrono::milliseconds(2000)) << "refused at once: no wait" << run.out;
    EXPECT_NE(run.out.find("\"name\": \"sic\", \"status\": \"failed\""), std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("connection refused"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("\"type\": \"host\""), std::string::npos) << run.out;
}

TEST(Demo, NiceGathersThroughALibniceAgentWithItsNumbers) {
    const DemoRun nice = run_demo("--nice --loopback --ipv4 --interface lo --format json");
    EXPECT_EQ(nice.status, 0) << nice.out;
    EXPECT_NE(nice.out.find("\"name\": \"libnice\", \"status\": \"ok\""), std::string::npos)
        << nice.out;
    // libnice's numbering: UDP host local preference has direction preference 1 (bit 13 set),
    // while jgather's own gives the first address 65535.
    const auto at = nice.out.find("\"priority\": ");
    ASSERT_NE(at, std::string::npos) << nice.out;
    const unsigned long priority = std::strtoul(nice.out.c_str() + at + 12, nullptr, 10);
    EXPECT_EQ((priority >> 8) & 0xe000, 0x2000U) << priority;
    const DemoRun own = run_demo("--loopback --ipv4 --interface lo --format json");
    EXPECT_EQ(own.out.find("\"libnice\""), std::string::npos) << own.out;
    const auto own_at = own.out.find("\"priority\": ");
    ASSERT_NE(own_at, std::string::npos) << own.out;
    EXPECT_EQ((std::strtoul(own.out.c_str() + own_at + 12, nullptr, 10) >> 8) & 0xffff, 65535U);
}

TEST(Call, UsageErrorsExitTwoWithOneLine) {
    for (const char* flags :
         {"", "--jid a@b/c --password p", "--jid a@b --password p --answer",
          "--jid a@b/c --password p --answer --call d@e/f", "--jid a@b/c --password p --call d@e",
          "--jid a@b/c --password p --answer --count 0",
          "--jid a@b/c --password p --answer --ipv4 --ipv6",
          "--jid a@b/c --password p --answer --format xml",
          "--jid a@b/c --password p --answer --stun x"}) {
        const DemoRun run = run_call(flags);
        EXPECT_EQ(run.status, 2) << flags << ": " << run.out;
        EXPECT_NE(run.out.find("jgather-call: "), std::string::npos) << run.out;
    }
    EXPECT_EQ(run_call("--help").status, 0);
}

TEST(Call, AnXmppServerThatRefusesEndsTheCallFailedAtOnce) {
    int port = 0;
    {
        SilentServer closed;
        port = closed.port();
    }
    const DemoRun run =
        run_call("--jid a@example.org/x --password p --xmpp-host 127.0.0.1 --xmpp-port " +
                 std::to_string(port) + " --xmpp-insecure --answer --format json --timeout 5000");
    EXPECT_EQ(run.status, 1) << run.out;
    EXPECT_LT(run.took, std::chrono::milliseconds(3000)) << run.out;
    EXPECT_NE(run.out.find("\"state\": \"failed\""), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("xmpp: "), std::string::npos) << run.out;
}

TEST(Call, NoPeerMeansTimedOutByTheTimeout) {
    SilentServer server;
    const DemoRun run = run_call(
        "--jid a@example.org/x --password p --xmpp-host 127.0.0.1 --xmpp-port " +
        std::to_string(server.port()) + " --xmpp-insecure --answer --format json --timeout 700");
    EXPECT_EQ(run.status, 1) << run.out;
    EXPECT_LT(run.took, std::chrono::milliseconds(2500)) << run.out;
    EXPECT_NE(run.out.find("\"state\": \"timed-out\""), std::string::npos) << run.out;
}

namespace {

DemoRun run_send(const std::string& flags) {
    return run_program("JGATHER_SEND", "jgather-send", flags);
}

DemoRun run_receive(const std::string& flags) {
    return run_program("JGATHER_RECEIVE", "jgather-receive", flags);
}

} // namespace

TEST(Transfer, UsageErrorsExitTwoWithOneLine) {
    const std::string me = "--jid a@b/c --password p ";
    for (const std::string& flags :
         {std::string(), me + "--file f", me + "--to d@e --file f",
          std::string("--jid a@b --password p --to d@e/f --file f"), me + "--to d@e/f",
          me + "--to d@e/f --file f --proxy a@b/c",
          me + "--to d@e/f --file f --proxy off --no-direct",
          me + "--to d@e/f --file f --ipv4 --ipv6", me + "--to d@e/f --file f --format xml",
          me + "--to d@e/f --file f --timeout 0", me + "--to d@e/f --file f --s5b-port 70000",
          me + "--to d@e/f --file f --out g"}) {
        const DemoRun run = run_send(flags);
        EXPECT_EQ(run.status, 2) << flags << ": " << run.out;
        EXPECT_NE(run.out.find("jgather-send: "), std::string::npos) << run.out;
    }
    for (const std::string& flags : {std::string(), me, me + "--out f --to d@e/f",
                                     me + "--out f --no-direct", me + "--out f --proxy"}) {
        const DemoRun run = run_receive(flags);
        EXPECT_EQ(run.status, 2) << flags << ": " << run.out;
        EXPECT_NE(run.out.find("jgather-receive: "), std::string::npos) << run.out;
    }
    EXPECT_EQ(run_send("--help").status, 0);
    EXPECT_EQ(run_receive("--help").status, 0);
}

TEST(Transfer, AFileThatCannotBeReadFailsBeforeAnythingIsSent) {
    SilentServer server; // never reached: the file is read first
    const DemoRun run =
        run_send("--jid a@example.org/x --password p --xmpp-host 127.0.0.1 --xmpp-port " +
                 std::to_string(server.port()) +
                 " --xmpp-insecure --to b@example.org/y --file /nonexistent/file --format json");
    EXPECT_EQ(run.status, 1) << run.out;
    EXPECT_NE(run.out.find("\"state\": \"failed\""), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("cannot open '/nonexistent/file': No such file or directory"),
              std::string::npos)
        << run.out;
}

TEST(Transfer, NoOfferMeansTimedOutByTheTimeout) {
    SilentServer server;
    const DemoRun run = run_receive(
        "--jid a@example.org/x --password p --xmpp-host 127.0.0.1 --xmpp-port " +
        std::to_string(server.port()) +
        " --xmpp-insecure --out /tmp/jgather-never-written --format json --timeout 700");
    EXPECT_EQ(run.status, 1) << run.out;
    EXPECT_LT(run.took, std::chrono::milliseconds(2500)) << run.out;
    EXPECT_NE(run.out.find("\"state\": \"timed-out\""), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("\"bytes\": 0"), std::string::npos) << run.out;
}
