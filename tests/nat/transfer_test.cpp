// Real file transfers across the NAT lab (scripts/lab.sh): a jgather-send and a jgather-receive
// process, each in a lab namespace, log in to prosody or ejabberd on the public side (both with
// proxy65 at 203.0.113.1), run a Jingle session (XEP-0234 over XEP-0260) and move a file.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>

#include "support/lab_process.hpp"
#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"

using jgather::test::json_field;
using jgather::test::LabProcess;
using jgather::test::XmppServer;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSender = "romeo@example.org/laptop";
constexpr const char* kReceiver = "juliet@example.org/phone";

// A file of @p size pseudo-random bytes (fixed seed: a failure can be reproduced).
void write_file(const std::string& path, std::size_t size) {
    std::mt19937 random(static_cast<unsigned>(size));
    std::string data(size, '\0');
    for (char& c : data) {
        c = static_cast<char>(random());
    }
    std::ofstream(path, std::ios::binary) << data;
}

double number(const std::string& text) {
    return text.empty() || text == "null" ? -1 : std::stod(text);
}

// What one program's JSON report says (the fields the tests look at).
struct Report {
    std::string json;
    std::string state;
    std::string error;
    double bytes = -1;
    std::string sha256;
    std::string streamhost_type;
    std::string streamhost_host;
    double connect_ms = -1;
    double transfer_ms = -1;

    explicit Report(std::string text) : json(std::move(text)) {
        state = json_field(json, "state");
        error = json_field(json, "error");
        bytes = number(json_field(json, "bytes"));
        sha256 = json_field(json, "sha256");
        const auto host = json.find("\"streamhost\": {");
        if (host != std::string::npos) {
            streamhost_type = json_field(json, "type", host);
            streamhost_host = json_field(json, "host", host);
        }
        connect_ms = number(json_field(json, "connect_ms"));
        transfer_ms = number(json_field(json, "transfer_ms"));
    }
    // The results of candidates_tried, in order.
    [[nodiscard]] std::vector<std::string> tried() const {
        std::vector<std::string> out;
        const auto at = json.find("\"candidates_tried\"");
        for (auto i = json.find("\"result\": ", at); i != std::string::npos;
             i = json.find("\"result\": ", i + 1)) {
            out.push_back(json_field(json, "type", json.rfind("{", i)) + ":" +
                          json_field(json, "result", i));
        }
        return out;
    }
};

struct Outcome {
    int sender_exit = -1;
    int receiver_exit = -1;
    Report sender{""};
    Report receiver{""};
    std::string log; // both sides' stderr and stdout, for failure messages
};

class Transfers : public ::testing::TestWithParam<XmppServer::Kind> {
protected:
    static void SetUpTestSuite() { lab_ = new jgather::test::LabWithProxies(); }
    static void TearDownTestSuite() {
        delete lab_;
        lab_ = nullptr;
    }
    static const XmppServer& server(XmppServer::Kind kind) { return lab_->server(kind); }
    static std::string ns(const std::string& host) { return lab_->lab().ns(host); }

    // Sends a file of @p size bytes from @p sender_host to @p receiver_host through @p kind's
    // server; each side gets the XMPP flags and its own extra flags. The received file must
    // equal the sent one whenever the receiver says "done".
    Outcome transfer(XmppServer::Kind kind, std::size_t size, const std::string& sender_host,
                     std::vector<std::string> sender_flags, const std::string& receiver_host,
                     std::vector<std::string> receiver_flags) {
        const XmppServer& srv = server(kind);
        const auto xmpp = [&](const std::string& jid) {
            return std::vector<std::string>{"--jid",       jid,
                                            "--password",  "secret123",
                                            "--xmpp-host", srv.options().ip,
                                            "--xmpp-port", std::to_string(srv.port()),
                                            "--xmpp-ca",   srv.ca_file(),
                                            "--format",    "json",
                                            "--ipv4"}; // the lab's IPv4 NATs are the subject
        };
        const std::string in = dir_.path() + "/in.bin";
        const std::string out = dir_.path() + "/out.bin";
        write_file(in, size);
        std::vector<std::string> r = xmpp(kReceiver);
        r.insert(r.end(), {"--out", out});
        r.insert(r.end(), receiver_flags.begin(), receiver_flags.end());
        LabProcess receiver(ns(receiver_host),
                            jgather::test::program_path("JGATHER_RECEIVE", "jgather-receive"), r,
                            dir_.path(), "receiver");
        Outcome outcome;
        if (!receiver.wait_for("waiting for a file offer", 20s)) {
            outcome.log = "the receiver never logged in:\n" + receiver.err() + srv.log();
            return outcome;
        }
        std::vector<std::string> s = xmpp(kSender);
        s.insert(s.end(), {"--to", kReceiver, "--file", in});
        s.insert(s.end(), sender_flags.begin(), sender_flags.end());
        LabProcess sender(ns(sender_host),
                          jgather::test::program_path("JGATHER_SEND", "jgather-send"), s,
                          dir_.path(), "sender");
        outcome.sender_exit = sender.wait();
        outcome.receiver_exit = receiver.wait();
        outcome.sender = Report(sender.out());
        outcome.receiver = Report(receiver.out());
        outcome.log = "--- sender (" + sender_host + ")\n" + sender.err() + sender.out() +
                      "--- receiver (" + receiver_host + ")\n" + receiver.err() + receiver.out();
        if (outcome.receiver.state == "done") {
            EXPECT_EQ(jgather::test::read_text(out), jgather::test::read_text(in))
                << "the received file differs from the sent one";
        }
        struct stat part {};
        EXPECT_NE(stat((out + ".part").c_str(), &part), 0) << "a partial file was left behind";
        if (std::getenv("JGATHER_TRANSFER_LOG") != nullptr) { // to read what a passing one did
            std::cout << outcome.log;
        }
        return outcome;
    }

    // Both sides say the whole file arrived, with the same SHA-256.
    static void expect_done(const Outcome& o, double bytes) {
        EXPECT_EQ(o.sender_exit, 0) << o.log;
        EXPECT_EQ(o.receiver_exit, 0) << o.log;
        EXPECT_EQ(o.sender.state, "done") << o.log;
        EXPECT_EQ(o.receiver.state, "done") << o.log;
        EXPECT_EQ(o.sender.bytes, bytes);
        EXPECT_EQ(o.receiver.bytes, bytes);
        EXPECT_EQ(o.sender.sha256.size(), 64u);
        EXPECT_EQ(o.sender.sha256, o.receiver.sha256);
    }

    jgather::test::TempDir dir_;
    static jgather::test::LabWithProxies* lab_;
};

jgather::test::LabWithProxies* Transfers::lab_ = nullptr;

} // namespace

TEST_P(Transfers, BetweenTwoNatedClientsTheProxyCarriesTheFileAndTheDeadCandidatesCostLittle) {
    // c1 and c2 sit behind different NATs that drop unsolicited packets: each side's direct
    // and assisted candidates are black holes to the other; only the server's proxy connects.
    const Outcome o = transfer(GetParam(), 1 << 20, "c1", {}, "c2", {});
    expect_done(o, 1 << 20);
    EXPECT_EQ(o.sender.streamhost_type, "proxy") << o.log;
    EXPECT_EQ(o.receiver.streamhost_type, "proxy") << o.log;
    EXPECT_EQ(o.receiver.streamhost_host, "203.0.113.1") << o.log;
    // Bounded by the stagger (250 ms per dead candidate ahead of the proxy), not by TCP's SYN
    // retries (about two minutes each): well under the 10 s an attempt may take.
    EXPECT_GT(o.receiver.connect_ms, 0) << o.log;
    EXPECT_LT(o.receiver.connect_ms, 5000) << o.log;
    const auto tried = o.receiver.tried();
    ASSERT_FALSE(tried.empty()) << o.log;
    EXPECT_EQ(tried.back(), "proxy:connected") << o.log;
}

TEST_P(Transfers, APublicSenderIsReachedDirectly) {
    const Outcome o = transfer(GetParam(), 1 << 20, "pub", {}, "c2", {});
    expect_done(o, 1 << 20);
    EXPECT_EQ(o.receiver.streamhost_type, "direct") << o.log;
    EXPECT_EQ(o.receiver.streamhost_host, "203.0.113.50") << o.log;
}

TEST_P(Transfers, WithNoCandidateThatConnectsBothSidesFailCleanlyAndQuickly) {
    // Proxies off on both sides between two NATs: nothing connects; candidate-error both ways,
    // session-terminate failed-transport, exit 1, no partial file — well before --timeout.
    const auto started = std::chrono::steady_clock::now();
    const Outcome o = transfer(GetParam(), 1000, "c1", {"--proxy", "off", "--timeout", "30000"},
                               "c2", {"--proxy", "off", "--timeout", "30000"});
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(o.sender_exit, 1) << o.log;
    EXPECT_EQ(o.receiver_exit, 1) << o.log;
    EXPECT_EQ(o.sender.state, "failed") << o.log;
    EXPECT_EQ(o.receiver.state, "failed") << o.log;
    EXPECT_NE(o.receiver.error.find("no candidate connected"), std::string::npos) << o.log;
    EXPECT_NE(o.sender.error.find("no candidate connected"), std::string::npos) << o.log;
    for (const std::string& t : o.receiver.tried()) {
        EXPECT_TRUE(t.ends_with(":timed-out") || t.ends_with(":failed")) << t << "\n" << o.log;
    }
    EXPECT_LT(took, 28s) << o.log;
}

INSTANTIATE_TEST_SUITE_P(Servers, Transfers,
                         ::testing::Values(XmppServer::Kind::Prosody, XmppServer::Kind::Ejabberd),
                         [](const auto& info) { return jgather::test::to_string(info.param); });

class TransferSizes : public Transfers {};

TEST_F(TransferSizes, AnEmptyFileAndAOneByteFileArriveWhole) {
    for (std::size_t size : {0, 1}) {
        SCOPED_TRACE(size);
        const Outcome o = transfer(XmppServer::Kind::Prosody, size, "pub", {}, "c2", {});
        expect_done(o, static_cast<double>(size));
    }
}

TEST_F(TransferSizes, SixtyFourMebibytesArriveWholeThroughTheProxyAndDirectly) {
    constexpr std::size_t kSize = 64u << 20;
    for (const auto& [sender, flags, type] :
         {std::tuple{"pub", std::vector<std::string>{}, "direct"},
          std::tuple{"c1", std::vector<std::string>{"--no-direct"}, "proxy"}}) {
        SCOPED_TRACE(type);
        const Outcome o = transfer(XmppServer::Kind::Prosody, kSize, sender, flags, "c2", {});
        expect_done(o, kSize);
        EXPECT_EQ(o.receiver.streamhost_type, type) << o.log;
        // A floor far below what the lab carries (hundreds of MiB/s): a transfer that stalls
        // or crawls (a blocking write, a lost wake-up) fails; the figure is bench-transfer's.
        ASSERT_GT(o.receiver.transfer_ms, 0) << o.log;
        const double mib_per_s = 64.0 / (o.receiver.transfer_ms / 1000.0);
        std::cout << type << ": 64 MiB in " << o.receiver.transfer_ms << " ms (" << mib_per_s
                  << " MiB/s)\n";
        EXPECT_GT(mib_per_s, 8.0) << o.log;
    }
}

TEST_F(TransferSizes, AForwardedPortMakesTheAssistedCandidateWin) {
    // The receiver behind nat1 listens on a fixed port that nat1 forwards (DNAT): its
    // assisted candidate (nat1's address, learned by Server IP Check) now connects.
    const std::string port = "40000";
    const jgather::test::ForwardedPort forwarded(ns("nat1"), "192.0.2.10", 40000);
    ASSERT_TRUE(forwarded.ok());
    const Outcome o = transfer(XmppServer::Kind::Prosody, 100000, "c2", {"--proxy", "off"}, "c1",
                               {"--proxy", "off", "--s5b-port", port});
    expect_done(o, 100000);
    EXPECT_EQ(o.sender.streamhost_type, "assisted") << o.log;
    EXPECT_EQ(o.sender.streamhost_host, "203.0.113.2") << o.log;
    // The receiver's own attempts (the sender's candidates, black holes behind nat2) are
    // stopped one grace second after the sender connected, not left to their 10 s timeout.
    EXPECT_GT(o.receiver.connect_ms, 1000) << o.log;
    EXPECT_LT(o.receiver.connect_ms, 5000) << o.log;
    EXPECT_LT(o.sender.connect_ms, 5000) << o.log;
}
