// Pluggable bases: a BaseProvider whose sockets belong to someone else (as a NiceAgent's do),
// and the real STUN source running on it unchanged, through the gatherer's datagram dispatch.
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "support/fake_stun.hpp"
#include "support/glib_loop.hpp"
#include "support/local_address.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

// "The agent": owns one UDP socket on 127.0.0.1 and announces it as the only base; it never
// hands the socket over. Counts what it was asked to do.
class ForeignBases final : public BaseProvider {
public:
    ForeignBases() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t length = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length);
        port_ = ntohs(a.sin_port);
    }
    ~ForeignBases() override { ::close(fd_); }
    ForeignBases(const ForeignBases&) = delete;
    ForeignBases& operator=(const ForeignBases&) = delete;

    std::string name() const override { return "agent"; }
    Result<ProvidedBases> open(const GatherOptions&) override {
        LocalAddress local;
        local.ip = *IpAddress::parse("127.0.0.1");
        local.interface = "lo";
        local.interface_index = 1;
        ProvidedBases provided;
        provided.local_addresses = {local};
        provided.bases = {{local, 1, port_, 65535, {}, 0}};
        return provided;
    }
    Result<void> send(std::size_t base, std::span<const std::uint8_t> data,
                      const TransportAddress& to) override {
        ++sends;
        EXPECT_EQ(base, 0U);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(to.port);
        std::memcpy(&a.sin_addr, to.ip.bytes().data(), 4);
        if (::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) <
            0) {
            return Error{std::strerror(errno)};
        }
        return {};
    }
    void receive(EventLoop& loop, std::function<void(const Datagram&)> receiver) override {
        receivers_set += receiver ? 1 : 0;
        watch_.reset();
        receiver_ = std::move(receiver);
        if (receiver_) {
            watch_ = loop.watch_readable(fd_, [this] { read(); });
        }
    }
    std::vector<OwnedSocket> take_sockets() override { return {}; } // the agent keeps them

    int sends = 0;
    int receivers_set = 0;
    std::uint16_t port() const { return port_; }

private:
    void read() {
        std::uint8_t buffer[2048];
        sockaddr_in from{};
        socklen_t length = sizeof from;
        const ssize_t got =
            ::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
        if (got < 0 || !receiver_) {
            return;
        }
        std::array<std::uint8_t, 4> ip{};
        std::memcpy(ip.data(), &from.sin_addr, 4);
        const auto receiver = receiver_; // the receiver may end the reading
        receiver({0,
                  {IpAddress::v4(ip), ntohs(from.sin_port)},
                  std::span<const std::uint8_t>(buffer, static_cast<std::size_t>(got))});
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::unique_ptr<LoopHandle> watch_;
    std::function<void(const Datagram&)> receiver_;
};

} // namespace

TEST(BaseProvider, TheStunSourceRunsUnchangedOnBasesItDoesNotOwn) {
    test::FakeStunServer server("127.0.0.1", [](const test::FakeStunRequest& r) {
        return std::vector<test::FakeStunSend>{
            {test::StunWire(test::StunWire::kBindingSuccess, r.id)
                 .xor_mapped("203.0.113.7", 4242)
                 .bytes(),
             false}};
    });
    test::TestLoop t;
    auto provider = std::make_unique<ForeignBases>();
    ForeignBases& agent = *provider;
    Gatherer g(t.loop(), {});
    g.set_base_provider(std::move(provider));
    StunOptions stun;
    stun.servers = {*StunSource::parse_server(server.address())};
    g.add_source(std::make_unique<StunSource>(stun));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));

    const GatherResult& r = g.result();
    ASSERT_EQ(r.sources.at(0).name, "agent") << "the provider's name is the host report's";
    ASSERT_EQ(r.ice.size(), 2U);
    EXPECT_EQ(r.ice[0].ice()->type, IceType::Host);
    EXPECT_EQ(r.ice[0].port, agent.port()) << "the agent's own port";
    EXPECT_EQ(r.ice[1].ice()->type, IceType::Srflx);
    EXPECT_EQ(r.ice[1].host, "203.0.113.7");
    EXPECT_EQ(r.ice[1].ice()->related,
              (TransportAddress{*IpAddress::parse("127.0.0.1"), agent.port()}));
    EXPECT_EQ(agent.sends, 1) << "the request left from the agent's socket, through the provider";
    EXPECT_EQ(server.requests().at(0).from_port, agent.port());
    EXPECT_EQ(agent.receivers_set, 1) << "read while the STUN source listened, then left alone";
    EXPECT_TRUE(g.take_sockets().empty()) << "the agent keeps its sockets";
}

TEST(BaseProvider, CanOnlyBeReplacedBeforeGather) {
    test::TestLoop t;
    Gatherer g(t.loop(), {});
    ASSERT_TRUE(g.gather()); // the default provider: jgather's own sockets
    g.set_base_provider(std::make_unique<ForeignBases>());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    EXPECT_EQ(g.result().sources.at(0).name, "host");
}

TEST(BaseProvider, DatagramsNoSourceClaimedComeWithTheSockets) {
    // A datagram that is not the STUN source's (garbage, as an early check from a peer would
    // be to it) arrives while the source reads the base: the caller gets it with the socket.
    test::FakeStunServer server("127.0.0.1", [](const test::FakeStunRequest& r) {
        return std::vector<test::FakeStunSend>{
            {{0xde, 0xad, 0xbe, 0xef}, false},
            {test::StunWire(test::StunWire::kBindingSuccess, r.id)
                 .xor_mapped("203.0.113.7", 4242)
                 .bytes(),
             false}};
    });
    test::TestLoop t;
    GatherOptions options;
    options.host.include_loopback = true;
    const LocalAddress lo = test::local_address("127.0.0.1", "lo", 1);
    options.host.addresses = std::vector<LocalAddress>{lo};
    Gatherer g(t.loop(), options);
    StunOptions stun;
    stun.servers = {*StunSource::parse_server(server.address())};
    g.add_source(std::make_unique<StunSource>(stun));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    EXPECT_EQ(g.result().unclaimed_datagrams, 1U);
    auto sockets = g.take_sockets();
    ASSERT_EQ(sockets.size(), 1U);
    ASSERT_EQ(sockets[0].unclaimed.size(), 1U);
    EXPECT_EQ(sockets[0].unclaimed[0].first.to_string(), server.address());
    EXPECT_EQ(sockets[0].unclaimed[0].second, (std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef}));
    ::close(sockets[0].fd);
}
