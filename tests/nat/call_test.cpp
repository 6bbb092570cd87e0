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

#include "support/lab_process.hpp"
#include "support/netns.hpp"
#include "support/turn_credentials.hpp"
#include "support/xmpp_servers.hpp"

using jgather::test::XmppServer;
using namespace std::chrono_literals;

namespace {

// One jgather-call (or, with @p program "JGATHER_DEMO", jgather-demo) process in a lab
// namespace.
class CallProcess : public jgather::test::LabProcess {
public:
    CallProcess(const std::string& netns, std::vector<std::string> args, const std::string& dir,
                const std::string& tag, const char* program = "JGATHER_CALL")
        : LabProcess(netns,
                     jgather::test::program_path(program, std::string(program) == "JGATHER_DEMO"
                                                              ? "jgather-demo"
                                                              : "jgather-call"),
                     std::move(args), dir, tag) {}
};

std::string field(const std::string& json, const std::string& key, std::size_t from = 0) {
    return jgather::test::json_field(json, key, from);
}

// What the JSON report says (the fields the tests look at).
struct Report {
    std::string json;
    std::string state;
    double connect_ms = -1;
    double gathering_ms = -1;
    std::string selected_local_type;
    std::string selected_remote_type;
    std::string selected_local_ip;
    std::string selected_remote_ip;
    unsigned selected_remote_port = 0;
    unsigned sent = 0;
    unsigned received = 0;

    // The types of the local candidates the report lists, in order.
    [[nodiscard]] std::vector<std::string> local_types() const {
        const auto at = json.find("\"local_candidates\"");
        const auto end = json.find("\"remote_candidates\"");
        std::vector<std::string> types;
        for (auto i = json.find("\"type\": ", at); i < end; i = json.find("\"type\": ", i + 1)) {
            types.push_back(field(json, "type", i));
        }
        return types;
    }

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
        r.selected_local_ip = field(json, "ip", local);
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
    std::string caller_err;
    std::string answerer_err;
    std::string log; // both stderr streams, for failure messages
};

constexpr const char* kTurnSecret = "jgather-lab-turn-secret";

class Calls : public testing::Test {
protected:
    static void SetUpTestSuite() {
        lab_ = new jgather::test::NatLab();
        jgather::test::XmppServerOptions prosody;
        prosody.netns = lab_->ns("srv");
        prosody.ip = "203.0.113.1";
        prosody.port = 5222;
        prosody.users = {{"alice", "secret123"}, {"bob", "secret123"}};
        // XEP-0215: both servers announce the lab's coturn (STUN, TURN over UDP and TCP) with
        // TURN-REST credentials that coturn checks against the same secret.
        prosody.extdisco_secret = kTurnSecret;
        jgather::test::XmppServerOptions ejabberd = prosody;
        ejabberd.port = 5223;
        prosody_ = new XmppServer(XmppServer::Kind::Prosody, prosody);
        ejabberd_ = new XmppServer(XmppServer::Kind::Ejabberd, ejabberd);
        coturn_ = new jgather::test::Coturn("203.0.113.1", 3478, lab_->ns("srv"), kTurnSecret);
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
        outcome.caller_err = caller.err();
        outcome.answerer_err = answerer.err();
        outcome.answerer = parse(answerer.out());
        outcome.log = "--- caller (" + caller_host + ")\n" + caller.err() + caller.out() +
                      "--- answerer (" + answerer_host + ")\n" + answerer.err() + answerer.out() +
                      "--- coturn\n" + coturn_->log();
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
constexpr const char* kNat3Wan = "203.0.113.4";
constexpr const char* kTurnServer = "203.0.113.1";

// Everything short of a relay: Server IP Check and libnice's STUN.
const std::vector<std::string> kNoRelay = {"--ipv4",           "--sic",     "auto", "--stun",
                                           "203.0.113.1:3478", "--timeout", "12000"};
// The XMPP server's services (XEP-0215): its STUN server and its TURN servers, with the
// credentials it hands out.
const std::vector<std::string> kExtdisco = {"--ipv4",     "--sic",     "auto",
                                            "--extdisco", "--timeout", "15000"};

// One jgather-demo run in @p host with @p flags; its JSON (stdout) and its stderr.
struct DemoRun {
    int exit = -1;
    std::string json;
    std::string err;
    std::chrono::milliseconds took{0};
};

std::vector<std::string> with(std::vector<std::string> flags, const std::string& more) {
    flags.push_back(more);
    return flags;
}

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
    // gathering_ms is null when the call was over (datagrams both ways) before the dead server
    // was given up: the strongest form of "connected first". Otherwise it came after connect_ms.
    if (r.answerer.gathering_ms >= 0) {
        EXPECT_LT(r.answerer.connect_ms, r.answerer.gathering_ms) << r.log;
    }
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

TEST_F(Calls, BehindANatWithANewPortPerDestinationNothingButARelayConnects) {
    // The control: NAT 3 gives every destination a new port, so neither the srflx STUN saw nor
    // the one derived from Server IP Check is where the peer's checks arrive, and NAT 1 lets in
    // nothing it has not sent to.
    const auto r = call(*prosody_, "c3", kNoRelay, "c1", kNoRelay);
    EXPECT_EQ(r.caller_exit, 1) << r.log;
    EXPECT_NE(r.caller.state, "connected") << r.log;
    EXPECT_NE(r.answerer.state, "connected") << r.log;
    EXPECT_EQ(r.caller.received, 0U) << r.log;
    EXPECT_EQ(r.answerer.received, 0U) << r.log;
}

TEST_F(Calls, WithTheServersTurnServiceTheSymmetricNatConnectsThroughTheRelay) {
    for (XmppServer* server : {prosody_, ejabberd_}) {
        SCOPED_TRACE(jgather::test::to_string(server == prosody_ ? XmppServer::Kind::Prosody
                                                                 : XmppServer::Kind::Ejabberd));
        const auto r = call(*server, "c3", kExtdisco, "c1", kExtdisco);
        ASSERT_EQ(r.caller_exit, 0) << r.log;
        ASSERT_EQ(r.answerer_exit, 0) << r.log;
        EXPECT_GT(r.caller.received, 0U);
        EXPECT_GT(r.answerer.received, 0U);
        // The pair runs through a relay on the lab's coturn (either side's), allocated with the
        // credentials the XMPP server handed out (TURN-REST, checked by coturn against the
        // shared secret).
        EXPECT_TRUE(r.caller.selected_local_type == "relay" ||
                    r.caller.selected_remote_type == "relay")
            << r.log;
        EXPECT_TRUE(r.caller.selected_local_ip == kTurnServer ||
                    r.caller.selected_remote_ip == kTurnServer)
            << r.log;
        // Each relay names its TURN server as its origin, and so does the srflx the allocation
        // reported (libnice itself names the relayed address there). The allocations are
        // released before the agent goes (libnice warns otherwise).
        for (const std::string& err : {r.caller_err, r.answerer_err}) {
            EXPECT_EQ(err.find("still have alive TURN refreshes"), std::string::npos) << r.log;
            EXPECT_NE(err.find(" from libnice (203.0.113.1:3478)"), std::string::npos) << r.log;
            // (coturn relays on ports 49152–49999 of its address.)
            EXPECT_EQ(err.find("from libnice (203.0.113.1:49"), std::string::npos) << r.log;
        }
        const auto types = r.caller.local_types();
        EXPECT_NE(std::find(types.begin(), types.end(), "relay"), types.end()) << r.log;
        // Both services were read and listed (never their password).
        EXPECT_NE(r.caller.json.find("\"external_services\": {"), std::string::npos) << r.log;
        EXPECT_EQ(r.caller.json.find("\"password\""), std::string::npos) << r.log;
    }
}

TEST_F(Calls, RelayOnlyAdvertisesRelaysAloneAndStillConnects) {
    const auto r = call(*prosody_, "c3", with(kExtdisco, "--relay-only"), "c1", kExtdisco);
    ASSERT_EQ(r.caller_exit, 0) << r.log;
    const auto types = r.caller.local_types();
    ASSERT_FALSE(types.empty()) << r.log;
    for (const std::string& type : types) {
        EXPECT_EQ(type, "relay") << r.log;
    }
    // Nothing of the caller's addresses reached the peer: only the relay's.
    EXPECT_EQ(r.answerer.json.find("\"ip\": \"198.51.100.130\""), std::string::npos) << r.log;
    EXPECT_EQ(r.answerer.json.find(std::string("\"ip\": \"") + kNat3Wan + "\""), std::string::npos)
        << r.log;
    EXPECT_EQ(r.caller.selected_local_type, "relay") << r.log;
    EXPECT_EQ(r.answerer.selected_remote_ip, kTurnServer) << r.log;
}

TEST_F(Calls, BetweenTwoPortPreservingNatsTheRelayIsThereButTheSrflxPairWins) {
    const auto r = call(*prosody_, "c1", kExtdisco, "c2", kExtdisco);
    ASSERT_EQ(r.caller_exit, 0) << r.log;
    const auto types = r.caller.local_types();
    EXPECT_NE(std::find(types.begin(), types.end(), "relay"), types.end()) << r.log;
    EXPECT_NE(r.caller.selected_local_type, "relay") << r.log;
    EXPECT_NE(r.caller.selected_remote_type, "relay") << r.log;
    EXPECT_EQ(r.caller.selected_remote_ip, kNat2Wan) << r.log;
    EXPECT_EQ(r.answerer.selected_remote_ip, kNat1Wan) << r.log;
}

namespace {

DemoRun demo(jgather::test::NatLab& lab, const std::string& host, std::vector<std::string> flags) {
    jgather::test::TempDir dir;
    flags.insert(flags.end(), {"--format", "json"});
    const auto started = std::chrono::steady_clock::now();
    CallProcess process(lab.ns(host), flags, dir.path(), "demo", "JGATHER_DEMO");
    DemoRun run;
    run.exit = process.wait();
    run.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    run.json = process.out();
    run.err = process.err();
    return run;
}

// The relay candidates of a demo's JSON, as "ip:port".
std::vector<std::string> relays_of(const std::string& json) {
    std::vector<std::string> out;
    for (auto at = json.find("\"type\": \"relay\""); at != std::string::npos;
         at = json.find("\"type\": \"relay\"", at + 1)) {
        out.push_back(field(json, "ip", at) + ":" + field(json, "port", at));
    }
    return out;
}

} // namespace

TEST_F(Calls, TurnConfiguredByHandAllocatesARelayOverUdpAndOverTcp) {
    const auto [user, password] = jgather::test::turn_rest_credentials(kTurnSecret, "alice");
    for (const char* transport : {"udp", "tcp"}) {
        SCOPED_TRACE(transport);
        const auto r = demo(*lab_, "c1",
                            {"--nice", "--ipv4", "--turn", kTurnServer, "--turn-user", user,
                             "--turn-password", password, "--turn-transport", transport});
        ASSERT_EQ(r.exit, 0) << r.err << r.json;
        const auto relays = relays_of(r.json);
        ASSERT_EQ(relays.size(), 1U) << r.err << r.json << coturn_->log();
        EXPECT_EQ(relays[0].substr(0, relays[0].find(':')), kTurnServer);
        // Its origin is the TURN server, and the related address the mapping it saw (NAT 1).
        EXPECT_NE(r.json.find("\"origin\": \"libnice (203.0.113.1:3478)\""), std::string::npos)
            << r.json;
        if (std::string(transport) == "udp") { // over TCP libnice reports no UDP mapping
            EXPECT_NE(r.json.find(std::string("\"related_ip\": \"") + kNat1Wan), std::string::npos)
                << r.json;
        }
        EXPECT_NE(
            r.json.find(std::string("TURN ") + transport + " 203.0.113.1:3478 (--turn) given"),
            std::string::npos)
            << r.json;
    }
}

TEST_F(Calls, ATurnServerThatRefusesOrIsDeadIsReportedAndCostsNoMoreThanLibnicesGiveUp) {
    const auto [user, password] = jgather::test::turn_rest_credentials("not-the-secret", "alice");
    for (const char* server : {kTurnServer, "203.0.113.99"}) {
        SCOPED_TRACE(server);
        const auto r = demo(*lab_, "c1",
                            {"--nice", "--ipv4", "--turn", server, "--turn-user", user,
                             "--turn-password", password});
        ASSERT_EQ(r.exit, 0) << r.err << r.json;
        EXPECT_TRUE(relays_of(r.json).empty()) << r.json;
        EXPECT_NE(r.json.find("no relay allocated (wrong or expired credentials"),
                  std::string::npos)
            << r.json;
        // Host candidates still came; libnice gives a TURN server up after ≈ 2 s (sends at
        // 0, 0.5 and 1.5 s): the whole run stays near that, far from the 5 s deadline.
        EXPECT_NE(r.json.find("\"type\": \"host\""), std::string::npos) << r.json;
        EXPECT_LT(r.took, 3500ms) << r.json;
    }
}

TEST_F(Calls, TheDemoListsTheServersServicesAndGetsARelayFromThem) {
    for (XmppServer* server : {prosody_, ejabberd_}) {
        SCOPED_TRACE(jgather::test::to_string(server == prosody_ ? XmppServer::Kind::Prosody
                                                                 : XmppServer::Kind::Ejabberd));
        const auto r = demo(*lab_, "c1",
                            {"--nice", "--ipv4", "--extdisco", "--sic", "off", "--jid",
                             "alice@example.org/demo", "--password", "secret123", "--xmpp-host",
                             server->options().ip, "--xmpp-port", std::to_string(server->port()),
                             "--xmpp-ca", server->ca_file()});
        ASSERT_EQ(r.exit, 0) << r.err << r.json;
        EXPECT_NE(r.json.find("\"external_services\": {\"server\": \"example.org\""),
                  std::string::npos)
            << r.json;
        EXPECT_EQ(r.json.find("\"password\""), std::string::npos) << "never the password";
        EXPECT_EQ(r.err.find("still have alive TURN refreshes"), std::string::npos) << r.err;
        // Both TURN transports given; libnice keeps one relay per relayed address, and says
        // nothing of the other: the report does.
        EXPECT_NE(r.json.find("TURN udp 203.0.113.1:3478 (extdisco example.org) given"),
                  std::string::npos)
            << r.json;
        EXPECT_NE(r.json.find("TURN tcp 203.0.113.1:3478 (extdisco example.org) given"),
                  std::string::npos)
            << r.json;
        EXPECT_EQ(relays_of(r.json).size(), 1U) << r.err << r.json << coturn_->log();
        EXPECT_NE(r.json.find("TURN udp/tcp 203.0.113.1:3478: one relay kept"), std::string::npos)
            << r.json;
        // libnice's STUN server is the announced one, and the demo says why it was chosen.
        EXPECT_NE(r.json.find("libnice's STUN server: 203.0.113.1:3478"), std::string::npos)
            << r.json;
    }
}
