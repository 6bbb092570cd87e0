// Real calls across the NAT lab (scripts/lab.sh): two jgather-call processes, each in a client
// namespace behind its own MASQUERADE NAT (or on the public side), log in to prosody or ejabberd
// on the public side, run a Jingle session through that server, let libnice connect on
// jgather's candidates and send datagrams both ways.
#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"

using jgather::test::XmppServer;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// One jgather-call process in a lab namespace; stdout and stderr go to files.
class CallProcess {
public:
    CallProcess(const std::string& netns, std::vector<std::string> args, const std::string& dir,
                const std::string& tag)
        : out_(dir + "/" + tag + ".out"), err_(dir + "/" + tag + ".err") {
        const char* call = std::getenv("JGATHER_CALL");
        std::vector<std::string> argv = {
            "timeout", "60", "ip", "netns", "exec", netns, call ? call : "jgather-call"};
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = fork();
        if (pid_ == 0) {
            const int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(out, 1);
            dup2(err, 2);
            std::vector<char*> c_argv;
            for (auto& a : argv) {
                c_argv.push_back(a.data());
            }
            c_argv.push_back(nullptr);
            execvp(c_argv[0], c_argv.data());
            _exit(127);
        }
    }
    ~CallProcess() {
        if (pid_ > 0 && !waited_) {
            kill(pid_, SIGTERM);
            wait();
        }
    }
    // Waits for the process to end (bounded by its `timeout 60`); its exit status.
    int wait() {
        int status = 0;
        waitpid(pid_, &status, 0);
        waited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    // Waits until stderr contains @p text: the process is ready for what comes next.
    bool wait_for(const std::string& text, std::chrono::milliseconds limit) const {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            if (read_file(err_).find(text) != std::string::npos) {
                return true;
            }
            usleep(10000); // polling a file: there is nothing to block on
        }
        return false;
    }
    [[nodiscard]] std::string out() const { return read_file(out_); }
    [[nodiscard]] std::string err() const { return read_file(err_); }

private:
    std::string out_;
    std::string err_;
    pid_t pid_ = -1;
    bool waited_ = false;
};

// What the JSON report says (the fields the tests look at).
struct Report {
    std::string json;
    std::string state;
    double connect_ms = -1;
    double gathering_ms = -1;
    std::string selected_local_type;
    std::string selected_remote_type;
    std::string selected_remote_ip;
    unsigned selected_remote_port = 0;
    unsigned sent = 0;
    unsigned received = 0;

    // True when the report lists a local candidate of @p source at ip:port.
    [[nodiscard]] bool has_local(const std::string& source, const std::string& ip,
                                 unsigned port) const {
        const auto at = json.find("\"local_candidates\"");
        const auto end = json.find("\"remote_candidates\"");
        const std::string list = json.substr(at, end - at);
        return list.find("\"ip\": \"" + ip + "\", \"port\": " + std::to_string(port) +
                         ", \"source\": \"" + source + "\"") != std::string::npos;
    }
};

// The value after `"key": ` in @p json from @p from on: a string's contents or a number's text.
// (Not std::regex: GCC 12 warns inside it under -fsanitize, and warnings are errors.)
std::string field(const std::string& json, const std::string& key, std::size_t from = 0) {
    const std::string marker = "\"" + key + "\": ";
    const auto at = json.find(marker, from);
    if (at == std::string::npos) {
        return "";
    }
    auto begin = at + marker.size();
    if (json[begin] == '"') {
        ++begin;
        return json.substr(begin, json.find('"', begin) - begin);
    }
    return json.substr(begin, json.find_first_of(",}\n", begin) - begin);
}

double number(const std::string& text) {
    return text.empty() || text == "null" ? -1 : std::stod(text);
}

Report parse(const std::string& json) {
    Report r;
    r.json = json;
    r.state = field(json, "state");
    r.connect_ms = number(field(json, "connect_ms"));
    r.gathering_ms = number(field(json, "gathering_ms"));
    r.sent = static_cast<unsigned>(std::max(0.0, number(field(json, "sent"))));
    r.received = static_cast<unsigned>(std::max(0.0, number(field(json, "received"))));
    const auto selected = json.find("\"selected\": {");
    if (selected != std::string::npos) {
        const auto local = json.find("\"local\": ", selected);
        const auto remote = json.find("\"remote\": ", selected);
        r.selected_local_type = field(json, "type", local);
        r.selected_remote_type = field(json, "type", remote);
        r.selected_remote_ip = field(json, "ip", remote);
        r.selected_remote_port = static_cast<unsigned>(number(field(json, "port", remote)));
    }
    return r;
}

struct CallOutcome {
    int caller_exit = -1;
    int answerer_exit = -1;
    Report caller;
    Report answerer;
    std::string log; // both stderr streams, for failure messages
};

class Calls : public testing::Test {
protected:
    static void SetUpTestSuite() {
        lab_ = new jgather::test::NatLab();
        jgather::test::XmppServerOptions prosody;
        prosody.netns = lab_->ns("srv");
        prosody.ip = "203.0.113.1";
        prosody.port = 5222;
        prosody.users = {{"alice", "secret123"}, {"bob", "secret123"}};
        jgather::test::XmppServerOptions ejabberd = prosody;
        ejabberd.port = 5223;
        prosody_ = new XmppServer(XmppServer::Kind::Prosody, prosody);
        ejabberd_ = new XmppServer(XmppServer::Kind::Ejabberd, ejabberd);
        coturn_ = new jgather::test::Coturn("203.0.113.1", 3478, lab_->ns("srv"));
    }
    static void TearDownTestSuite() {
        delete coturn_;
        delete prosody_;
        delete ejabberd_;
        delete lab_;
        coturn_ = nullptr;
        prosody_ = ejabberd_ = nullptr;
        lab_ = nullptr;
    }

    // A call from @p caller_host to @p answerer_host through @p server; each side gets the
    // XMPP flags and its own extra flags.
    static CallOutcome call(const XmppServer& server, const std::string& caller_host,
                            std::vector<std::string> caller_flags, const std::string& answerer_host,
                            std::vector<std::string> answerer_flags) {
        jgather::test::TempDir dir;
        const auto xmpp = [&](const std::string& jid) {
            return std::vector<std::string>{"--jid",       jid,
                                            "--password",  "secret123",
                                            "--xmpp-host", server.options().ip,
                                            "--xmpp-port", std::to_string(server.port()),
                                            "--xmpp-ca",   server.ca_file(),
                                            "--format",    "json"};
        };
        std::vector<std::string> a = xmpp("bob@example.org/phone");
        a.push_back("--answer");
        a.insert(a.end(), answerer_flags.begin(), answerer_flags.end());
        CallProcess answerer(lab_->ns(answerer_host), a, dir.path(), "answerer");
        CallOutcome outcome;
        if (!answerer.wait_for("waiting for a session", 15s)) {
            outcome.log = "answerer never logged in:\n" + answerer.err() + server.log();
            return outcome;
        }
        std::vector<std::string> c = xmpp("alice@example.org/phone");
        c.insert(c.end(), {"--call", "bob@example.org/phone"});
        c.insert(c.end(), caller_flags.begin(), caller_flags.end());
        CallProcess caller(lab_->ns(caller_host), c, dir.path(), "caller");
        outcome.caller_exit = caller.wait();
        outcome.answerer_exit = answerer.wait();
        outcome.caller = parse(caller.out());
        outcome.answerer = parse(answerer.out());
        outcome.log = "--- caller (" + caller_host + ")\n" + caller.err() + caller.out() +
                      "--- answerer (" + answerer_host + ")\n" + answerer.err() + answerer.out();
        if (std::getenv("JGATHER_CALL_LOG") != nullptr) { // to read what a passing call did
            std::cout << outcome.log;
        }
        return outcome;
    }

    static jgather::test::NatLab* lab_;
    static XmppServer* prosody_;
    static XmppServer* ejabberd_;
    static jgather::test::Coturn* coturn_;
};

jgather::test::NatLab* Calls::lab_ = nullptr;
XmppServer* Calls::prosody_ = nullptr;
XmppServer* Calls::ejabberd_ = nullptr;
jgather::test::Coturn* Calls::coturn_ = nullptr;

// IPv4 only unless a test says otherwise: the lab's IPv6 (NAT66 behind NAT 1, routed behind
// NAT 2) would connect the two clients on its own and hide what the IPv4 candidates do.
const std::vector<std::string> kHostOnly = {"--ipv4", "--sic", "off", "--timeout", "8000"};
const std::vector<std::string> kSicOnly = {"--ipv4", "--sic", "auto", "--timeout", "15000"};

// The NATs' WAN addresses (scripts/lab.sh).
constexpr const char* kNat1Wan = "203.0.113.2";
constexpr const char* kNat2Wan = "203.0.113.3";

} // namespace

TEST_F(Calls, HostCandidatesAloneCannotCrossTheTwoNats) {
    // The control: the NATs isolate the clients, so what connects below is what jgather added.
    const auto r = call(*prosody_, "c1", kHostOnly, "c2", kHostOnly);
    EXPECT_EQ(r.caller_exit, 1) << r.log;
    EXPECT_NE(r.caller.state, "connected") << r.log;
    EXPECT_NE(r.answerer.state, "connected") << r.log;
    EXPECT_EQ(r.caller.received, 0U) << r.log;
}

TEST_F(Calls, ServerIpCheckAloneConnectsThroughTheCandidateJgatherDerived) {
    for (XmppServer* server : {prosody_, ejabberd_}) {
        SCOPED_TRACE(jgather::test::to_string(server == prosody_ ? XmppServer::Kind::Prosody
                                                                 : XmppServer::Kind::Ejabberd));
        const auto r = call(*server, "c1", kSicOnly, "c2", kSicOnly);
        ASSERT_EQ(r.caller_exit, 0) << r.log;
        ASSERT_EQ(r.answerer_exit, 0) << r.log;
        EXPECT_EQ(r.caller.state, "connected");
        EXPECT_GT(r.caller.received, 0U);
        EXPECT_GT(r.answerer.received, 0U);
        // No STUN server anywhere: the pair's remote address is the srflx the peer's jgather
        // derived from Server IP Check (its NAT's address with its host socket's port).
        EXPECT_EQ(r.caller.selected_remote_ip, kNat2Wan) << r.log;
        EXPECT_TRUE(r.answerer.has_local("sic", kNat2Wan, r.caller.selected_remote_port)) << r.log;
        EXPECT_EQ(r.answerer.selected_remote_ip, kNat1Wan) << r.log;
        EXPECT_TRUE(r.caller.has_local("sic", kNat1Wan, r.answerer.selected_remote_port)) << r.log;
    }
}

TEST_F(Calls, LibnicesStunThroughJgatherConnectsThroughTheSrflx) {
    const std::vector<std::string> stun = {"--ipv4",           "--sic",     "off",  "--stun",
                                           "203.0.113.1:3478", "--timeout", "15000"};
    const auto r = call(*prosody_, "c1", stun, "c2", stun);
    ASSERT_EQ(r.caller_exit, 0) << r.log;
    EXPECT_EQ(r.caller.selected_remote_ip, kNat2Wan) << r.log;
    EXPECT_TRUE(r.answerer.has_local("libnice", kNat2Wan, r.caller.selected_remote_port)) << r.log;
}

TEST_F(Calls, ANattedClientCallsAPublicOne) {
    const auto r = call(*ejabberd_, "c1", kSicOnly, "pub", kSicOnly);
    ASSERT_EQ(r.caller_exit, 0) << r.log;
    ASSERT_EQ(r.answerer_exit, 0) << r.log;
    EXPECT_EQ(r.caller.selected_remote_ip, "203.0.113.50") << r.log;
    EXPECT_EQ(r.caller.selected_remote_type, "host") << r.log;
}

TEST_F(Calls, TrickleConnectsBeforeTheSlowerSideHasGathered) {
    // The answerer's STUN server is dead (nothing at that address): its libnice gathering takes
    // seconds, but its Server IP Check candidate is trickled at once and the call connects.
    const std::vector<std::string> slow = {
        "--ipv4", "--sic", "auto", "--stun", "203.0.113.99:3478", "--timeout", "15000"};
    const auto r = call(*prosody_, "c1", kSicOnly, "c2", slow);
    ASSERT_EQ(r.answerer_exit, 0) << r.log;
    ASSERT_GT(r.answerer.connect_ms, 0) << r.log;
    ASSERT_GT(r.answerer.gathering_ms, 0) << r.log;
    EXPECT_LT(r.answerer.connect_ms, r.answerer.gathering_ms) << r.log;
}

TEST_F(Calls, AConfiguredExternalAddressConnectsLikeServerIpCheck) {
    // --external-ip: the same derived srflx, told by configuration; --count: as many each way.
    const auto r = call(
        *prosody_, "c1", {"--ipv4", "--sic", "off", "--external-ip", kNat1Wan, "--count", "20"},
        "c2", {"--ipv4", "--sic", "off", "--external-ip", kNat2Wan, "--count", "20"});
    ASSERT_EQ(r.caller_exit, 0) << r.log;
    EXPECT_EQ(r.caller.sent, 20U);
    EXPECT_EQ(r.answerer.sent, 20U);
    EXPECT_EQ(r.caller.selected_remote_ip, kNat2Wan) << r.log;
    EXPECT_TRUE(r.answerer.has_local("config", kNat2Wan, r.caller.selected_remote_port)) << r.log;
}

TEST_F(Calls, OverIpv6TheNat66ClientReachesTheRoutedOneOnItsHostCandidate) {
    // --ipv6: behind NAT 2 IPv6 is routed (global), behind NAT 1 it goes through a NAT66, so host
    // candidates suffice: the NAT66 side's checks open the way, the routed side is reachable.
    const std::vector<std::string> v6 = {"--ipv6", "--sic", "off", "--timeout", "15000"};
    const auto r = call(*prosody_, "c1", v6, "c2", v6);
    ASSERT_EQ(r.caller_exit, 0) << r.log;
    EXPECT_EQ(r.caller.selected_remote_ip, "2001:db8:0:20::10") << r.log;
    EXPECT_EQ(r.caller.selected_remote_type, "host") << r.log;
}
