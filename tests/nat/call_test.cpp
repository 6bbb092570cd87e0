// Real calls across the NAT lab (scripts/lab.sh): two jgather-call processes, each in a client
// namespace behind its own MASQUERADE NAT (or on the public side), log in to prosody or ejabberd
// on the public side, run a Jingle session through that server, let libnice connect on
// jgather's candidates and send datagrams both ways.
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <regex>
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

Report parse(const std::string& json) {
    Report r;
    r.json = json;
    std::smatch m;
    if (std::regex_search(json, m, std::regex(R"re("state": "([a-z-]+)")re"))) {
        r.state = m[1];
    }
    if (std::regex_search(json, m, std::regex(R"re("connect_ms": ([0-9.]+))re"))) {
        r.connect_ms = std::stod(m[1]);
    }
    if (std::regex_search(json, m, std::regex(R"re("gathering_ms": ([0-9.]+))re"))) {
        r.gathering_ms = std::stod(m[1]);
    }
    if (std::regex_search(
            json, m,
            std::regex(
                R"re("selected": \{"local": \{"type": "([a-z]+)", "ip": "[^"]+", "port": [0-9]+\}, "remote": \{"type": "([a-z]+)", "ip": "([^"]+)", "port": ([0-9]+)\})re"))) {
        r.selected_local_type = m[1];
        r.selected_remote_type = m[2];
        r.selected_remote_ip = m[3];
        r.selected_remote_port = static_cast<unsigned>(std::stoul(m[4]));
    }
    if (std::regex_search(json, m, std::regex(R"re("sent": ([0-9]+))re"))) {
        r.sent = static_cast<unsigned>(std::stoul(m[1]));
    }
    if (std::regex_search(json, m, std::regex(R"re("received": ([0-9]+))re"))) {
        r.received = static_cast<unsigned>(std::stoul(m[1]));
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
                                            "--format",    "json",
                                            "--ipv4"};
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

const std::vector<std::string> kHostOnly = {"--sic", "off", "--timeout", "8000"};
const std::vector<std::string> kSicOnly = {"--sic", "auto", "--timeout", "15000"};

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
    const std::vector<std::string> stun = {"--sic",     "off",  "--stun", "203.0.113.1:3478",
                                           "--timeout", "15000"};
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
    const std::vector<std::string> slow = {"--sic",     "auto", "--stun", "203.0.113.99:3478",
                                           "--timeout", "15000"};
    const auto r = call(*prosody_, "c1", kSicOnly, "c2", slow);
    ASSERT_EQ(r.answerer_exit, 0) << r.log;
    ASSERT_GT(r.answerer.connect_ms, 0) << r.log;
    ASSERT_GT(r.answerer.gathering_ms, 0) << r.log;
    EXPECT_LT(r.answerer.connect_ms, r.answerer.gathering_ms) << r.log;
}
