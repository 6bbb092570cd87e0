// The NiceAgent adapter: conversions field by field, gathering through a real agent on
// loopback (its host candidates kept with libnice's numbers, guesses derived beside them,
// libnice's own STUN srflx reported with its server), the remote side's rules, and two agents
// that connect with nothing but what jgather wrote and read (XEP-0176 both ways).
#include <algorithm>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/nice.hpp>
#include <jgather/sources/external.hpp>
#include <jgather/xep0176.hpp>

#include "support/fake_stun.hpp"
#include "support/glib_loop.hpp"
#include "support/local_address.hpp"

using namespace jgather;
using namespace std::chrono_literals;

namespace {

struct AgentUnref {
    void operator()(NiceAgent* a) const { g_object_unref(a); }
};
using AgentPtr = std::unique_ptr<NiceAgent, AgentUnref>;

AgentPtr new_agent(GMainContext* context) {
    return AgentPtr(
        nice_agent_new_full(context, NICE_COMPATIBILITY_RFC5245, NICE_AGENT_OPTION_NONE));
}

NiceAddress nice_address(const char* ip, guint port) {
    NiceAddress a;
    nice_address_init(&a);
    EXPECT_TRUE(nice_address_set_from_string(&a, ip));
    nice_address_set_port(&a, port);
    return a;
}

// Gathering options for an agent on loopback only.
GatherOptions loopback_options(unsigned components = 1) {
    GatherOptions options;
    options.components = components;
    options.host.include_loopback = true;
    options.host.ipv6 = false;
    options.host.addresses = std::vector<LocalAddress>{test::local_address("127.0.0.1", "lo", 1)};
    options.deadline = 3s;
    return options;
}

// The agent's local candidates of one component, owned.
std::vector<nice::NiceCandidatePtr> local_candidates(NiceAgent* agent, guint stream,
                                                     guint component) {
    std::vector<nice::NiceCandidatePtr> out;
    GSList* list = nice_agent_get_local_candidates(agent, stream, component);
    for (GSList* i = list; i != nullptr; i = i->next) {
        out.emplace_back(static_cast<NiceCandidate*>(i->data));
    }
    g_slist_free(list);
    return out;
}

// A scripted STUN server's answer: every request mapped to 203.0.113.7:40000 (a real server on
// loopback would answer with the base itself, which libnice drops as redundant). libnice's
// discovery asks in RFC 3489 form (a 16-byte transaction id, no cookie): so is the answer.
std::vector<test::FakeStunSend> maps_to_203_0_113_7(const test::FakeStunRequest& request) {
    return {{test::StunWire(test::StunWire::kBindingSuccess, request.id)
                 .classic(request.cookie)
                 .mapped("203.0.113.7", 40000)
                 .bytes(),
             false}};
}

// A receive callback that drops the media: until one is attached, libnice reads the
// component's sockets on a private context that nobody iterates (component.c), so its STUN
// answers would be lost.
void attach_ignoring_receiver(NiceAgent* agent, guint stream, GMainContext* context) {
    nice_agent_attach_recv(
        agent, stream, 1, context, [](NiceAgent*, guint, guint, guint, gchar*, gpointer) {},
        nullptr);
}

const Candidate* find_type(const std::vector<Candidate>& list, IceType type) {
    const auto it = std::find_if(list.begin(), list.end(),
                                 [&](const Candidate& c) { return c.ice()->type == type; });
    return it == list.end() ? nullptr : &*it;
}

} // namespace

// --- conversions -------------------------------------------------------------------------

TEST(NiceConversion, ASrflxKeepsEveryFieldAndItsBaseAsTheRelatedAddress) {
    nice::NiceCandidatePtr n(nice_candidate_new(NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE));
    n->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    n->addr = nice_address("203.0.113.7", 40000);
    n->base_addr = nice_address("192.0.2.10", 5000);
    n->priority = 1694498815;
    n->stream_id = 3;
    n->component_id = 2;
    std::strcpy(n->foundation, "17");
    auto c = nice::from_nice(*n);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->transport(), TransportKind::IceUdp);
    EXPECT_EQ(c->host, "203.0.113.7");
    EXPECT_EQ(c->port, 40000);
    EXPECT_EQ(c->priority, 1694498815U);
    EXPECT_EQ(c->ice()->type, IceType::Srflx);
    EXPECT_EQ(c->ice()->component, 2U);
    EXPECT_EQ(c->ice()->foundation, "17");
    ASSERT_TRUE(c->ice()->related);
    EXPECT_EQ(c->ice()->related->to_string(), "192.0.2.10:5000");
    EXPECT_EQ(c->ice()->generation, 0U);
    EXPECT_EQ(c->ice()->network, 0U);
    EXPECT_TRUE(c->ice()->id.empty()); // libnice has none: the caller's to give
    EXPECT_EQ(c->origin.source, "libnice");
}

TEST(NiceConversion, AHostHasNoRelatedAddressAndIpv6IsCanonical) {
    nice::NiceCandidatePtr n(nice_candidate_new(NICE_CANDIDATE_TYPE_HOST));
    n->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    n->addr = nice_address("2001:DB8:0:0::10", 5002);
    n->base_addr = n->addr; // libnice sets it for hosts too
    n->priority = 2130706431;
    n->component_id = 1;
    std::strcpy(n->foundation, "1");
    auto c = nice::from_nice(*n);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->host, "2001:db8::10");
    EXPECT_EQ(c->ice()->type, IceType::Host);
    EXPECT_FALSE(c->ice()->related);
}

TEST(NiceConversion, EveryTypeMapsBothWays) {
    for (IceType type : {IceType::Host, IceType::Srflx, IceType::Prflx, IceType::Relay}) {
        Candidate c;
        c.fields = IceFields{};
        c.host = "198.51.100.4";
        c.port = 6000;
        c.priority = 12345;
        c.ice()->type = type;
        c.ice()->component = 1;
        c.ice()->foundation = "a+/9";
        if (type != IceType::Host) {
            c.ice()->related = TransportAddress{*IpAddress::parse("192.0.2.4"), 7000};
        }
        auto n = nice::to_nice(c, 5);
        ASSERT_TRUE(n) << n.error().message;
        EXPECT_EQ((*n)->stream_id, 5U);
        auto back = nice::from_nice(**n);
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_EQ(back->ice()->type, type) << to_string(type);
        EXPECT_EQ(back->host, c.host);
        EXPECT_EQ(back->port, c.port);
        EXPECT_EQ(back->priority, c.priority);
        EXPECT_EQ(back->ice()->foundation, c.ice()->foundation);
        EXPECT_EQ(back->ice()->component, c.ice()->component);
        EXPECT_EQ(back->ice()->related, c.ice()->related);
    }
}

TEST(NiceConversion, RefusesWhatHasNoOtherForm) {
    nice::NiceCandidatePtr tcp(nice_candidate_new(NICE_CANDIDATE_TYPE_HOST));
    tcp->transport = NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE;
    tcp->addr = nice_address("192.0.2.1", 0);
    auto from_tcp = nice::from_nice(*tcp);
    ASSERT_FALSE(from_tcp);
    EXPECT_NE(from_tcp.error().message.find("UDP candidates only"), std::string::npos);

    nice::NiceCandidatePtr invalid(nice_candidate_new(NICE_CANDIDATE_TYPE_HOST));
    invalid->transport = NICE_CANDIDATE_TRANSPORT_UDP; // address left invalid
    EXPECT_FALSE(nice::from_nice(*invalid));

    Candidate s5b;
    s5b.fields = S5bFields{"cid", "a@b/c", S5bType::Direct};
    s5b.host = "192.0.2.1";
    s5b.port = 1;
    EXPECT_FALSE(nice::to_nice(s5b, 1));

    Candidate long_foundation;
    long_foundation.host = "192.0.2.1";
    long_foundation.port = 1;
    long_foundation.ice()->foundation = std::string(33, 'f');
    auto too_long = nice::to_nice(long_foundation, 1);
    ASSERT_FALSE(too_long);
    EXPECT_NE(too_long.error().message.find("foundation"), std::string::npos);

    Candidate name;
    name.host = "peer.example";
    name.port = 1;
    name.ice()->foundation = "1";
    EXPECT_FALSE(nice::to_nice(name, 1));
}

// --- gathering through an agent ------------------------------------------------------------

TEST(NiceGathering, HostCandidatesAreTheAgentsWithItsNumbersAndCredentials) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 2);
    Gatherer g(t.loop(), loopback_options(2));
    ASSERT_TRUE(nice::attach(g, agent.get(), stream));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    const GatherResult& r = g.result();

    ASSERT_EQ(r.ice.size(), 2U);
    for (guint component = 1; component <= 2; ++component) {
        auto agents = local_candidates(agent.get(), stream, component);
        ASSERT_EQ(agents.size(), 1U) << "ice-tcp is off: one UDP host per component";
        const auto ours = std::find_if(r.ice.begin(), r.ice.end(), [&](const Candidate& c) {
            return c.ice()->component == component;
        });
        ASSERT_NE(ours, r.ice.end());
        EXPECT_EQ(ours->ice()->type, IceType::Host);
        EXPECT_EQ(ours->host, "127.0.0.1");
        EXPECT_EQ(ours->port, nice_address_get_port(&agents[0]->addr));
        EXPECT_EQ(ours->priority, agents[0]->priority);
        EXPECT_EQ(ours->ice()->foundation, agents[0]->foundation);
        EXPECT_EQ(ours->ice()->network, 1U);
        EXPECT_FALSE(ours->ice()->id.empty());
    }
    gchar* ufrag = nullptr;
    gchar* pwd = nullptr;
    ASSERT_TRUE(nice_agent_get_local_credentials(agent.get(), stream, &ufrag, &pwd));
    EXPECT_EQ(r.ufrag, ufrag);
    EXPECT_EQ(r.pwd, pwd);
    g_free(ufrag);
    g_free(pwd);
    const auto libnice = std::find_if(r.sources.begin(), r.sources.end(),
                                      [](const SourceReport& s) { return s.name == "libnice"; });
    ASSERT_NE(libnice, r.sources.end());
    EXPECT_EQ(libnice->state, SourceState::Ok) << libnice->error;
    EXPECT_TRUE(r.error.empty()) << r.error;
}

TEST(NiceGathering, TheDefaultsTurnUpnpAndIceTcpOffAndTrickleOn) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    g_object_set(agent.get(), "upnp", TRUE, "ice-tcp", TRUE, "ice-trickle", FALSE, nullptr);
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    Gatherer g(t.loop(), loopback_options());
    ASSERT_TRUE(nice::attach(g, agent.get(), stream));
    ASSERT_TRUE(g.gather());
    gboolean upnp = TRUE;
    gboolean ice_tcp = TRUE;
    gboolean trickle = FALSE;
    g_object_get(agent.get(), "upnp", &upnp, "ice-tcp", &ice_tcp, "ice-trickle", &trickle, nullptr);
    EXPECT_FALSE(upnp);
    EXPECT_FALSE(ice_tcp);
    EXPECT_TRUE(trickle);
}

TEST(NiceGathering, UnsetSettingsLeaveTheAgentsOwnAndTcpCandidatesStayOut) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    g_object_set(agent.get(), "ice-tcp", TRUE, "upnp", FALSE, nullptr);
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    Gatherer g(t.loop(), loopback_options());
    nice::AgentOptions options;
    options.settings.ice_tcp.reset();
    ASSERT_TRUE(nice::attach(g, agent.get(), stream, options));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    gboolean ice_tcp = FALSE;
    g_object_get(agent.get(), "ice-tcp", &ice_tcp, nullptr);
    EXPECT_TRUE(ice_tcp);
    // libnice made TCP candidates beside the UDP one; XEP-0176 gets the UDP one only.
    EXPECT_GT(local_candidates(agent.get(), stream, 1).size(), 1U);
    ASSERT_EQ(g.result().ice.size(), 1U);
}

TEST(NiceGathering, AnExternalAddressDerivesASrflxRankedBelowTheAgentsOwn) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    Gatherer g(t.loop(), loopback_options());
    ASSERT_TRUE(nice::attach(g, agent.get(), stream));
    g.add_source(std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("203.0.113.9")));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    const GatherResult& r = g.result();
    const Candidate* host = find_type(r.ice, IceType::Host);
    const Candidate* guess = find_type(r.ice, IceType::Srflx);
    ASSERT_TRUE(host && guess);
    EXPECT_EQ(guess->host, "203.0.113.9");
    EXPECT_EQ(guess->port, host->port) << "the host socket's port: signalling only";
    EXPECT_EQ(guess->ice()->related,
              (TransportAddress{*IpAddress::parse("127.0.0.1"), host->port}));
    EXPECT_EQ(guess->ice()->foundation.substr(0, 1), "j") << "never one of libnice's numbers";
    // RFC 8445 §5.1.2.1 with the srflx type preference, and a local preference below the 8192
    // libnice gives every srflx of its own (direction preference 1 << 13).
    EXPECT_EQ(guess->priority >> 24, 100U);
    EXPECT_LT((guess->priority >> 8) & 0xffff, 8192U);
    EXPECT_EQ(guess->origin.source, "config");
}

TEST(NiceGathering, LibnicesOwnStunSrflxIsReportedWithItsServerAndNumbers) {
    test::FakeStunServer server("127.0.0.1", maps_to_203_0_113_7);
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    attach_ignoring_receiver(agent.get(), stream, t.context());
    Gatherer g(t.loop(), loopback_options());
    nice::AgentOptions options;
    options.stun_server = TransportAddress{*IpAddress::parse("127.0.0.1"), server.port()};
    ASSERT_TRUE(nice::attach(g, agent.get(), stream, options));
    g.add_source(std::make_unique<ConfiguredExternalSource>(*IpAddress::parse("203.0.113.7")));
    ASSERT_TRUE(g.gather());
    ASSERT_TRUE(t.run_until([&] { return g.complete(); }, 5s));
    const GatherResult& r = g.result();
    EXPECT_FALSE(server.requests().empty());
    const Candidate* srflx = find_type(r.ice, IceType::Srflx);
    ASSERT_NE(srflx, nullptr);
    EXPECT_EQ(srflx->host, "203.0.113.7");
    EXPECT_EQ(srflx->port, 40000);
    EXPECT_EQ(srflx->origin.source, "libnice");
    EXPECT_EQ(srflx->origin.detail, server.address());
    auto agents = local_candidates(agent.get(), stream, 1);
    const auto theirs = std::find_if(agents.begin(), agents.end(), [](const auto& n) {
        return n->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
    });
    ASSERT_NE(theirs, agents.end());
    EXPECT_EQ(srflx->priority, (*theirs)->priority);
    EXPECT_EQ(srflx->ice()->foundation, (*theirs)->foundation);
    // The guess for the same IP is not needed: libnice verified a mapping of this base.
    EXPECT_EQ(std::count_if(r.ice.begin(), r.ice.end(),
                            [](const Candidate& c) { return c.ice()->type == IceType::Srflx; }),
              1);
    EXPECT_TRUE(std::any_of(r.external_addresses.begin(), r.external_addresses.end(),
                            [](const ExternalAddress& e) { return e.origin.source == "libnice"; }));
    nice_agent_attach_recv(agent.get(), stream, 1, t.context(), nullptr, nullptr);
}

// The README's promise (Gatherer): it may be destroyed from any callback — here from each
// callback of the agent's candidates (host, libnice's own srflx) and of the libnice source's end.
TEST(NiceGathering, TheGathererMayBeDestroyedFromEveryCallbackOfTheAgentsCandidates) {
    test::FakeStunServer server("127.0.0.1", maps_to_203_0_113_7);
    enum class Where { HostCandidate, SrflxCandidate, LibniceDone, Complete };
    for (Where where :
         {Where::HostCandidate, Where::SrflxCandidate, Where::LibniceDone, Where::Complete}) {
        SCOPED_TRACE(static_cast<int>(where));
        test::TestLoop t;
        AgentPtr agent = new_agent(t.context());
        const guint stream = nice_agent_add_stream(agent.get(), 1);
        attach_ignoring_receiver(agent.get(), stream, t.context());
        auto g = std::make_unique<Gatherer>(t.loop(), loopback_options());
        nice::AgentOptions options;
        options.stun_server = TransportAddress{*IpAddress::parse("127.0.0.1"), server.port()};
        ASSERT_TRUE(nice::attach(*g, agent.get(), stream, options));
        bool destroyed = false;
        g->on_candidate = [&](const Candidate& c) {
            if ((where == Where::HostCandidate && c.ice()->type == IceType::Host) ||
                (where == Where::SrflxCandidate && c.origin.source == "libnice")) {
                g.reset();
                destroyed = true;
            }
        };
        g->on_source_done = [&](const SourceReport& r) {
            if (where == Where::LibniceDone && r.name == "libnice") {
                g.reset();
                destroyed = true;
            }
        };
        g->on_complete = [&](const GatherResult&) {
            if (where == Where::Complete) {
                g.reset();
                destroyed = true;
            }
        };
        ASSERT_TRUE(g->gather());
        ASSERT_TRUE(t.run_until([&] { return destroyed; }, 5s));
        // The agent outlives it and still works: a new gathering on a second stream.
        const guint second = nice_agent_add_stream(agent.get(), 1);
        attach_ignoring_receiver(agent.get(), second, t.context());
        Gatherer again(t.loop(), loopback_options());
        ASSERT_TRUE(nice::attach(again, agent.get(), second));
        ASSERT_TRUE(again.gather());
        ASSERT_TRUE(t.run_until([&] { return again.complete(); }, 5s));
        EXPECT_NE(find_type(again.result().ice, IceType::Srflx), nullptr);
        t.drain();
        for (guint s : {stream, second}) {
            nice_agent_attach_recv(agent.get(), s, 1, t.context(), nullptr, nullptr);
        }
    }
}

TEST(NiceGathering, RefusesAStreamItCannotDrive) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 2);
    {
        Gatherer g(t.loop(), loopback_options(1));
        ASSERT_TRUE(nice::attach(g, agent.get(), stream));
        auto started = g.gather();
        ASSERT_FALSE(started);
        EXPECT_NE(started.error().message.find("more components"), std::string::npos)
            << started.error().message;
    }
    {
        Gatherer g(t.loop(), loopback_options(1));
        ASSERT_TRUE(nice::attach(g, agent.get(), stream + 7));
        auto started = g.gather();
        ASSERT_FALSE(started);
        EXPECT_NE(started.error().message.find("no stream"), std::string::npos)
            << started.error().message;
    }
    {
        GatherOptions options = loopback_options(2);
        options.host.include_loopback = false; // nothing left: libnice would choose for itself
        Gatherer g(t.loop(), options);
        ASSERT_TRUE(nice::attach(g, agent.get(), stream));
        auto started = g.gather();
        ASSERT_FALSE(started);
        EXPECT_NE(started.error().message.find("no usable local address"), std::string::npos);
    }
    ASSERT_TRUE(nice_agent_gather_candidates(agent.get(), stream));
    {
        Gatherer g(t.loop(), loopback_options(2));
        ASSERT_TRUE(nice::attach(g, agent.get(), stream));
        auto started = g.gather();
        ASSERT_FALSE(started);
        EXPECT_NE(started.error().message.find("gathered already"), std::string::npos)
            << started.error().message;
    }
    Gatherer g(t.loop(), loopback_options());
    EXPECT_FALSE(nice::attach(g, nullptr, 1));
    EXPECT_FALSE(nice::attach(g, agent.get(), 0));
}

TEST(NiceGathering, TheGathererMayGoBeforeTheAgentAndTheAgentKeepsWorking) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    auto g = std::make_unique<Gatherer>(t.loop(), loopback_options());
    ASSERT_TRUE(nice::attach(*g, agent.get(), stream));
    ASSERT_TRUE(g->gather());
    g.reset(); // signal handlers disconnected, reference dropped
    // A second stream on the same agent gathers again, without adding the address twice.
    const guint second = nice_agent_add_stream(agent.get(), 1);
    Gatherer again(t.loop(), loopback_options());
    ASSERT_TRUE(nice::attach(again, agent.get(), second));
    ASSERT_TRUE(again.gather());
    ASSERT_TRUE(t.run_until([&] { return again.complete(); }, 5s));
    EXPECT_EQ(again.result().ice.size(), 1U);
    EXPECT_EQ(local_candidates(agent.get(), second, 1).size(), 1U);
}

// --- the remote side -----------------------------------------------------------------------

namespace {

Candidate remote(const char* ip, std::uint16_t port, IceType type, unsigned component = 1) {
    Candidate c;
    c.host = ip;
    c.port = port;
    c.priority = 1000 + port;
    c.ice()->type = type;
    c.ice()->component = component;
    c.ice()->foundation = "9";
    c.ice()->id = "id" + std::to_string(port);
    if (type != IceType::Host) {
        c.ice()->related = TransportAddress{*IpAddress::parse("192.0.2.1"), 9};
    }
    return c;
}

std::vector<nice::NiceCandidatePtr> remote_candidates(NiceAgent* agent, guint stream) {
    std::vector<nice::NiceCandidatePtr> out;
    GSList* list = nice_agent_get_remote_candidates(agent, stream, 1);
    for (GSList* i = list; i != nullptr; i = i->next) {
        out.emplace_back(static_cast<NiceCandidate*>(i->data));
    }
    g_slist_free(list);
    return out;
}

} // namespace

TEST(NiceRemote, CredentialsOnceCandidatesIncrementallyPrflxAsSrflx) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    nice::RemoteCandidates peer(agent.get(), stream);

    xep0176::Transport first{
        "abcd", "0123456789012345678901", {remote("192.0.2.5", 5000, IceType::Host)}};
    auto applied = peer.apply(first);
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_TRUE(applied->credentials_set);
    EXPECT_EQ(applied->added, 1U);

    // Trickle: the same one again and a prflx, credentials repeated.
    xep0176::Transport second{
        "abcd",
        "0123456789012345678901",
        {remote("192.0.2.5", 5000, IceType::Host), remote("203.0.113.5", 6000, IceType::Prflx)}};
    applied = peer.apply(second);
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_FALSE(applied->credentials_set);
    EXPECT_EQ(applied->added, 1U);
    EXPECT_EQ(applied->already_known, 1U);
    EXPECT_TRUE(applied->skipped.empty());
    auto known = remote_candidates(agent.get(), stream);
    ASSERT_EQ(known.size(), 2U);
    const auto prflx = std::find_if(known.begin(), known.end(), [](const auto& n) {
        return nice_address_get_port(&n->addr) == 6000;
    });
    ASSERT_NE(prflx, known.end());
    EXPECT_EQ((*prflx)->type, NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE);
    EXPECT_EQ((*prflx)->priority, 7000U) << "the peer's priority is kept";

    // Without credentials is fine later; a component the stream lacks is skipped.
    xep0176::Transport third{"", "", {remote("192.0.2.5", 5001, IceType::Host, 2)}};
    applied = peer.apply(third);
    ASSERT_TRUE(applied) << applied.error().message;
    EXPECT_EQ(applied->added, 0U);
    ASSERT_EQ(applied->skipped.size(), 1U);
    EXPECT_NE(applied->skipped[0].find("no such component"), std::string::npos);

    // Changed credentials: an ICE restart, refused with nothing applied.
    xep0176::Transport restart{
        "wxyz", "0123456789012345678901", {remote("192.0.2.5", 5003, IceType::Host)}};
    auto refused = peer.apply(restart);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("ICE restart"), std::string::npos);
    EXPECT_EQ(remote_candidates(agent.get(), stream).size(), 2U);
    EXPECT_TRUE(peer.end_of_candidates());
}

TEST(NiceRemote, TheFirstTransportMustCarryCredentials) {
    test::TestLoop t;
    AgentPtr agent = new_agent(t.context());
    const guint stream = nice_agent_add_stream(agent.get(), 1);
    nice::RemoteCandidates peer(agent.get(), stream);
    auto refused = peer.apply({"", "", {remote("192.0.2.5", 5000, IceType::Host)}});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("ufrag and pwd"), std::string::npos);
    EXPECT_TRUE(remote_candidates(agent.get(), stream).empty());
    nice::RemoteCandidates nowhere(agent.get(), stream + 5);
    EXPECT_FALSE(nowhere.end_of_candidates());
}

// Two agents on loopback, each gathering through jgather, exchange nothing but the XEP-0176
// text jgather wrote and its reader parsed, trickled one candidate at a time: they connect and
// a datagram crosses each way.
TEST(NiceRemote, TwoAgentsConnectOnWhatJgatherWroteAndRead) {
    test::TestLoop t;
    struct Side {
        AgentPtr agent;
        guint stream = 0;
        std::unique_ptr<Gatherer> gatherer;
        std::unique_ptr<nice::RemoteCandidates> peer;
        NiceComponentState state = NICE_COMPONENT_STATE_DISCONNECTED;
        std::string received;
    };
    Side a;
    Side b;
    ReadOptions loopback_ok;
    loopback_ok.accept_loopback = true;
    for (Side* s : {&a, &b}) {
        s->agent = new_agent(t.context());
        g_object_set(s->agent.get(), "controlling-mode", s == &a, nullptr);
        s->stream = nice_agent_add_stream(s->agent.get(), 1);
        nice_agent_attach_recv(
            s->agent.get(), s->stream, 1, t.context(),
            [](NiceAgent*, guint, guint, guint len, gchar* buf, gpointer data) {
                static_cast<Side*>(data)->received.assign(buf, len);
            },
            s);
        g_signal_connect(s->agent.get(), "component-state-changed",
                         G_CALLBACK(+[](NiceAgent*, guint, guint, guint state, gpointer data) {
                             static_cast<Side*>(data)->state =
                                 static_cast<NiceComponentState>(state);
                         }),
                         s);
        s->gatherer = std::make_unique<Gatherer>(t.loop(), loopback_options());
        ASSERT_TRUE(nice::attach(*s->gatherer, s->agent.get(), s->stream));
    }
    for (auto [from, to] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
        to->peer = std::make_unique<nice::RemoteCandidates>(to->agent.get(), to->stream);
        from->gatherer->on_candidate = [from, to, &loopback_ok](const Candidate& c) {
            const std::string wire = xep0176::write_trickle(from->gatherer->result().ufrag,
                                                            from->gatherer->result().pwd, c);
            auto read = xep0176::read(wire, loopback_ok);
            ASSERT_TRUE(read) << read.error().message;
            auto applied = to->peer->apply(*read);
            ASSERT_TRUE(applied) << applied.error().message;
            EXPECT_EQ(applied->added, 1U);
        };
        from->gatherer->on_complete = [to](const GatherResult&) {
            EXPECT_TRUE(to->peer->end_of_candidates());
        };
    }
    ASSERT_TRUE(a.gatherer->gather());
    ASSERT_TRUE(b.gatherer->gather());
    ASSERT_TRUE(t.run_until(
        [&] {
            return (a.state == NICE_COMPONENT_STATE_READY ||
                    a.state == NICE_COMPONENT_STATE_CONNECTED) &&
                   (b.state == NICE_COMPONENT_STATE_READY ||
                    b.state == NICE_COMPONENT_STATE_CONNECTED);
        },
        10s))
        << "states " << a.state << " " << b.state;
    ASSERT_EQ(nice_agent_send(a.agent.get(), a.stream, 1, 5, "hello"), 5);
    ASSERT_EQ(nice_agent_send(b.agent.get(), b.stream, 1, 5, "howdy"), 5);
    ASSERT_TRUE(t.run_until([&] { return !a.received.empty() && !b.received.empty(); }, 5s));
    EXPECT_EQ(b.received, "hello");
    EXPECT_EQ(a.received, "howdy");
    for (Side* s : {&a, &b}) {
        nice_agent_attach_recv(s->agent.get(), s->stream, 1, t.context(), nullptr, nullptr);
    }
}
