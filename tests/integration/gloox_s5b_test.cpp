// Interop with gloox's own XEP-0065 implementation: an application that keeps gloox's
// SOCKS5BytestreamManager and lets jgather find its streamhosts (xmpp::streamhosts() of a
// gathering: the direct candidate on gloox's SOCKS5BytestreamServer's port, the server's proxy
// from Proxy65Service). Two gloox managers, one per account on a real server (prosody,
// ejabberd, each with proxy65 on loopback), open a bytestream and carry bytes over it.
//
// With jgather's XmppConnection, gloox's bytestream connections are GIO ones on the loop
// (newInstance() of the XMPP connection): the target's connect() does not block, and it tries
// the first streamhost only (gloox counts a connect() that returns without error as reached).
#include <memory>
#include <optional>
#include <string>

#include <gloox/bytestreamdatahandler.h>
#include <gloox/bytestreamhandler.h>
#include <gloox/socks5bytestream.h>
#include <gloox/socks5bytestreammanager.h>
#include <gloox/socks5bytestreamserver.h>
#include <gtest/gtest.h>

#include <jgather/gatherer.hpp>
#include <jgather/gloox.hpp>
#include <jgather/sources/proxy65.hpp>

#include "support/glib_loop.hpp"
#include "support/local_address.hpp"
#include "support/xmpp_client.hpp"
#include "support/xmpp_servers.hpp"

using namespace jgather;
using namespace std::chrono_literals;
using test::XmppServer;

namespace {

// One account's gloox bytestream side: the manager and what its handlers saw.
class GlooxSide final : public gloox::BytestreamHandler, public gloox::BytestreamDataHandler {
public:
    explicit GlooxSide(xmpp::XmppConnection& connection) : manager(&connection.client(), this) {}
    ~GlooxSide() override {
        if (stream != nullptr) {
            stream->removeBytestreamDataHandler();
            manager.dispose(static_cast<gloox::SOCKS5Bytestream*>(stream));
        }
    }

    void handleIncomingBytestreamRequest(const std::string& sid, const gloox::JID&) override {
        manager.acceptSOCKS5Bytestream(sid);
    }
    void handleIncomingBytestream(gloox::Bytestream* bs) override { take(bs); }
    void handleOutgoingBytestream(gloox::Bytestream* bs) override { take(bs); }
    void handleBytestreamError(const gloox::IQ& iq, const std::string& sid) override {
        error = "bytestream " + sid + " refused by " + iq.from().full();
    }
    void handleBytestreamData(gloox::Bytestream*, const std::string& data) override {
        received += data;
    }
    void handleBytestreamError(gloox::Bytestream*, const gloox::IQ& iq) override {
        error = "bytestream error from " + iq.from().full();
    }
    void handleBytestreamOpen(gloox::Bytestream*) override { ++opened; }
    void handleBytestreamClose(gloox::Bytestream*) override { closed = true; }

    gloox::SOCKS5BytestreamManager manager;
    gloox::Bytestream* stream = nullptr;
    std::string received;
    std::string error;
    int opened = 0;
    bool closed = false;

private:
    void take(gloox::Bytestream* bs) {
        stream = bs;
        bs->registerBytestreamDataHandler(this);
        if (!bs->connect()) {
            error = "connect() failed";
        }
    }
};

// Calls @p poll every few ms on @p loop while alive: gloox's SOCKS5BytestreamServer and the
// connections it accepts are driven by recv(), not by the loop.
class Poller {
public:
    Poller(EventLoop& loop, std::function<void()> poll) : loop_(loop), poll_(std::move(poll)) {
        arm();
    }

private:
    void arm() {
        timer_ = loop_.call_after(5ms, [this] {
            poll_();
            arm();
        });
    }
    EventLoop& loop_;
    std::function<void()> poll_;
    std::unique_ptr<LoopHandle> timer_;
};

class GlooxS5b : public ::testing::TestWithParam<XmppServer::Kind> {
protected:
    void SetUp() override {
        test::XmppServerOptions options;
        options.users = {{"romeo", "secret123"}, {"juliet", "secret123"}};
        options.proxy65_port = test::free_tcp_port();
        options.proxy65_address = "127.0.0.1";
        server_ = std::make_unique<XmppServer>(GetParam(), options);
        romeo_ = std::make_unique<xmpp::XmppConnection>(loop_.context(),
                                                        test::account_on(*server_, "romeo"));
        juliet_ = std::make_unique<xmpp::XmppConnection>(loop_.context(),
                                                         test::account_on(*server_, "juliet"));
        ASSERT_TRUE(test::connect_and_wait(loop_, *romeo_));
        ASSERT_TRUE(test::connect_and_wait(loop_, *juliet_));
    }

    // romeo's SOCKS5 candidates: loopback, the direct one on @p port (the application's
    // listener), and the server's proxy.
    std::vector<Candidate> gather(std::uint16_t port) {
        Proxy65Service proxies(*romeo_);
        GatherOptions options;
        options.ice = false;
        options.s5b = true;
        options.s5b_port = port;
        options.jid = romeo_->client().jid().full();
        options.host.include_loopback = true;
        options.host.addresses =
            std::vector<LocalAddress>{test::local_address("127.0.0.1", "lo", 1)};
        Gatherer gatherer(loop_.loop(), options);
        gatherer.add_source(proxies.source());
        EXPECT_TRUE(gatherer.gather());
        EXPECT_TRUE(loop_.run_until([&] { return gatherer.complete(); }, 10s));
        return gatherer.result().s5b;
    }

    // romeo offers @p hosts to juliet; both open the stream; romeo's bytes reach juliet.
    void carry(GlooxSide& romeo, GlooxSide& juliet, const gloox::StreamHostList& hosts,
               int initiator_opens) {
        romeo.manager.setStreamHosts(hosts);
        ASSERT_TRUE(romeo.manager.requestSOCKS5Bytestream(gloox::JID(juliet_->client().jid()),
                                                          gloox::SOCKS5BytestreamManager::S5BTCP,
                                                          "gloox-interop"));
        ASSERT_TRUE(loop_.run_until(
            [&] {
                return (romeo.opened >= initiator_opens && juliet.opened >= 1) ||
                       !romeo.error.empty() || !juliet.error.empty();
            },
            10s))
            << "romeo opened " << romeo.opened << ", juliet " << juliet.opened << "\n"
            << server_->log();
        ASSERT_TRUE(romeo.error.empty()) << romeo.error;
        ASSERT_TRUE(juliet.error.empty()) << juliet.error;
        std::string data;
        for (int i = 0; i < 1000; ++i) {
            data += "jgather found this streamhost, gloox carries line " + std::to_string(i) + "\n";
        }
        ASSERT_TRUE(romeo.stream->send(data));
        // The end of the stream, as a file's sender closes it: prosody's proxy65 passes the last
        // bytes of a burst (up to its 4 KiB link buffer) on only then.
        romeo.stream->close();
        ASSERT_TRUE(loop_.run_until([&] { return juliet.received.size() >= data.size(); }, 10s))
            << juliet.received.size() << " of " << data.size();
        EXPECT_EQ(juliet.received, data);
    }

    test::TestLoop loop_;
    std::unique_ptr<XmppServer> server_;
    std::unique_ptr<xmpp::XmppConnection> romeo_;
    std::unique_ptr<xmpp::XmppConnection> juliet_;
};

} // namespace

TEST_P(GlooxS5b, TheDirectStreamhostIsGlooxsOwnServerOnTheGatheredPort) {
    gloox::SOCKS5BytestreamServer s5server(romeo_->client().logInstance(), 0, "127.0.0.1");
    ASSERT_EQ(s5server.listen(), gloox::ConnNoError);
    const int port = s5server.localPort();
    ASSERT_GT(port, 0);
    Poller poll(loop_.loop(), [&] { (void)s5server.recv(0); });

    const auto candidates = gather(static_cast<std::uint16_t>(port));
    const gloox::StreamHostList hosts = xmpp::streamhosts(candidates);
    ASSERT_GE(hosts.size(), 2u);
    // Priority order: the direct one (gloox's server) first, the proxy last.
    EXPECT_EQ(hosts.front().host, "127.0.0.1");
    EXPECT_EQ(hosts.front().port, port);
    EXPECT_EQ(hosts.front().jid.full(), romeo_->client().jid().full());
    EXPECT_EQ(hosts.back().jid.full().rfind("proxy.example.org", 0), 0u) << hosts.back().jid.full();

    GlooxSide romeo(*romeo_);
    GlooxSide juliet(*juliet_);
    romeo.manager.registerSOCKS5BytestreamServer(&s5server);
    // gloox's initiator reads its side of a direct stream with recv(): poll it too.
    Poller poll_stream(loop_.loop(), [&] {
        if (romeo.stream != nullptr) {
            (void)romeo.stream->recv(0);
        }
    });
    carry(romeo, juliet, hosts, 1);
    romeo.manager.removeSOCKS5BytestreamServer();
}

TEST_P(GlooxS5b, TheProxyStreamhostIsActivatedByGloox) {
    const auto candidates = gather(1); // no listener: only the proxy is offered below
    std::vector<Candidate> proxies;
    for (const Candidate& c : candidates) {
        if (c.s5b()->type == S5bType::Proxy) {
            proxies.push_back(c);
        }
    }
    ASSERT_EQ(proxies.size(), 1u);
    const gloox::StreamHostList hosts = xmpp::streamhosts(proxies);
    GlooxSide romeo(*romeo_);
    GlooxSide juliet(*juliet_);
    // The initiator's stream opens twice: when its SOCKS5 handshake with the proxy completes and
    // when the proxy confirms the activation (XEP-0065 §6.3.3); bytes go after the second.
    carry(romeo, juliet, hosts, 2);
}

INSTANTIATE_TEST_SUITE_P(Servers, GlooxS5b,
                         ::testing::Values(XmppServer::Kind::Prosody, XmppServer::Kind::Ejabberd),
                         [](const auto& info) { return test::to_string(info.param); });
