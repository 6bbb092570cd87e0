// Calls across the NAT lab: a client behind NAT 1 and one behind NAT 2, each a NiceAgent (one
// stream, one component, upnp and ice-tcp off, trickle on) on its own thread and GMainContext
// inside its namespace, the candidates handed to the other thread the moment they appear (an
// in-process signalling channel, the same for every mode, so that only the candidate layer
// differs). Modes, alternating round by round:
//   libnice alone, STUN           libnice's new-candidate-full straight to the peer's agent
//   jgather + libnice, STUN       jgather's trickle, written and read as XEP-0176
//   jgather + libnice, SIC only   no STUN server anywhere: the srflx jgather derived
//   jgather, STUN, no trickle     everything sent once at gathering-done
//   SIC + dead STUN, trickle / at gathering-done   a STUN server that never answers
// Both layers use the client's one IPv4 address (libnice's given with add_local_address,
// jgather's by its policy with IPv6 off), so the pairs and the check pacing are the same.
// Times are from the start of both gatherings to ICE connected (the controlling side), to its
// first datagram from the peer, and to its gathering-done. Prints medians and ratios to
// libnice alone.
//
//   JGATHER_SOURCE_DIR=$PWD build/benchmarks/bench-call [ROUNDS]   (root; prosody, coturn)
#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/nice.hpp>
#include <jgather/sources/sic.hpp>
#include <jgather/xep0176.hpp>

#include "libnice_baseline.hpp"
#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"

namespace {

using bench::Clock;
using bench::median;
using bench::since;

enum class Layer { Libnice, Jgather };
enum class Stun { Healthy, None, Dead };

struct Mode {
    const char* label;
    Layer layer;
    Stun stun;
    bool sic;
    bool trickle;
};

struct Times {
    double connected = -1;
    double first_datagram = -1;
    double gathered = -1;
};

// Runs @p f on @p context's thread.
void post(GMainContext* context, std::function<void()> f) {
    auto* heap = new std::function<void()>(std::move(f));
    g_main_context_invoke_full(
        context, G_PRIORITY_DEFAULT,
        [](gpointer data) -> gboolean {
            (*static_cast<std::function<void()>*>(data))();
            return G_SOURCE_REMOVE;
        },
        heap, [](gpointer data) { delete static_cast<std::function<void()>*>(data); });
}

// One client: its namespace, context and XMPP connection live across rounds.
struct Side {
    std::string netns;
    const char* ipv4 = nullptr; // the client's one IPv4 address: both layers use it alone
    GMainContext* context = nullptr;
    std::unique_ptr<jgather::EventLoop> loop;
    std::unique_ptr<jgather::xmpp::XmppConnection> xmpp;
    std::unique_ptr<jgather::SicService> sic;
    Side* peer = nullptr;
    bool controlling = false;
    // One round:
    NiceAgent* agent = nullptr;
    guint stream = 0;
    std::unique_ptr<jgather::Gatherer> gatherer;
    std::optional<jgather::nice::RemoteCandidates> remote;
    Clock::time_point start;
    Times times;
    bool sent_datagram = false;
};

void connect_xmpp(Side& side, const jgather::test::XmppServer& server, const char* user) {
    jgather::test::EnterNetns inside(side.netns);
    jgather::xmpp::ConnectOptions account;
    account.jid = std::string(user) + "@example.org";
    account.password = "secret123";
    account.host = server.options().ip;
    account.port = server.port();
    account.ca_file = server.ca_file();
    side.xmpp = std::make_unique<jgather::xmpp::XmppConnection>(side.context, account);
    bool done = false;
    side.xmpp->on_connected = [&] {
        done = true;
    };
    side.xmpp->on_disconnected = [&](const jgather::xmpp::Disconnect& d) {
        std::fprintf(stderr, "bench-call: cannot connect %s: %s\n", user, d.message.c_str());
        std::exit(1);
    };
    if (!side.xmpp->connect()) {
        std::exit(1);
    }
    while (!done) {
        g_main_context_iteration(side.context, TRUE);
    }
    side.sic = std::make_unique<jgather::SicService>(*side.xmpp);
}

// The peer's agent takes a transport jgather wrote (on the peer's thread).
void deliver_xep0176(Side& to, std::string xml) {
    post(to.context, [&to, xml = std::move(xml)] {
        jgather::ReadOptions options;
        auto transport = jgather::xep0176::read(xml, options);
        if (!transport || !to.remote) {
            return;
        }
        (void)to.remote->apply(*transport);
        if (transport->end_of_candidates) {
            (void)to.remote->end_of_candidates();
        }
    });
}

void run_side(Side& side, const Mode& mode, std::uint16_t stun_port, std::barrier<>& ready,
              std::atomic<int>& finished) {
    jgather::test::EnterNetns inside(side.netns);
    side.times = {};
    side.sent_datagram = false;
    side.agent = nice_agent_new_full(side.context, NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE);
    g_object_set(side.agent, "controlling-mode", gboolean(side.controlling), "upnp", FALSE,
                 "ice-tcp", FALSE, nullptr);
    side.stream = nice_agent_add_stream(side.agent, 1);
    side.remote.emplace(side.agent, side.stream);
    nice_agent_attach_recv(
        side.agent, side.stream, 1, side.context,
        [](NiceAgent*, guint, guint, guint, gchar*, gpointer data) {
            auto* s = static_cast<Side*>(data);
            if (s->times.first_datagram < 0) {
                s->times.first_datagram = since(s->start);
            }
        },
        &side);
    g_signal_connect(
        side.agent, "component-state-changed",
        G_CALLBACK(+[](NiceAgent* agent, guint stream, guint, guint state, gpointer data) {
            auto* s = static_cast<Side*>(data);
            if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
                !s->sent_datagram) {
                s->sent_datagram = true;
                s->times.connected = since(s->start);
                nice_agent_send(agent, stream, 1, 4, "ping");
            }
        }),
        &side);
    const std::optional<jgather::TransportAddress> stun =
        mode.stun == Stun::None ? std::nullopt
                                : std::optional(jgather::TransportAddress{
                                      *jgather::IpAddress::parse("203.0.113.1"), stun_port});
    if (mode.layer == Layer::Libnice) {
        // The address jgather's policy chooses with IPv6 off (GatherOptions below): the same
        // candidates, so the same pairs and the same pacing.
        NiceAddress address;
        nice_address_init(&address);
        nice_address_set_from_string(&address, side.ipv4);
        nice_agent_add_local_address(side.agent, &address);
        if (stun) {
            g_object_set(side.agent, "stun-server", "203.0.113.1", "stun-server-port",
                         guint(stun_port), nullptr);
        }
        g_signal_connect(side.agent, "new-candidate-full",
                         G_CALLBACK(+[](NiceAgent*, NiceCandidate* c, gpointer data) {
                             auto* s = static_cast<Side*>(data);
                             NiceCandidate* copy = nice_candidate_copy(c);
                             Side* to = s->peer;
                             post(to->context, [to, copy] {
                                 copy->stream_id = to->stream;
                                 GSList one{copy, nullptr};
                                 nice_agent_set_remote_candidates(to->agent, to->stream, 1, &one);
                                 nice_candidate_free(copy);
                             });
                         }),
                         &side);
        g_signal_connect(side.agent, "candidate-gathering-done",
                         G_CALLBACK(+[](NiceAgent*, guint, gpointer data) {
                             auto* s = static_cast<Side*>(data);
                             s->times.gathered = since(s->start);
                             Side* to = s->peer;
                             post(to->context, [to] {
                                 nice_agent_peer_candidate_gathering_done(to->agent, to->stream);
                             });
                         }),
                         &side);
    } else {
        jgather::GatherOptions options;
        options.host.ipv6 = false;
        side.gatherer = std::make_unique<jgather::Gatherer>(*side.loop, options);
        jgather::nice::AgentOptions agent_options;
        agent_options.stun_server = stun;
        (void)jgather::nice::attach(*side.gatherer, side.agent, side.stream, agent_options);
        if (mode.sic) {
            side.gatherer->add_source(side.sic->source());
        }
        if (mode.trickle) {
            side.gatherer->on_candidate = [&side](const jgather::Candidate& c) {
                const auto& r = side.gatherer->result();
                deliver_xep0176(*side.peer, jgather::xep0176::write_trickle(r.ufrag, r.pwd, c));
            };
        }
        side.gatherer->on_complete = [&side,
                                      trickle = mode.trickle](const jgather::GatherResult& r) {
            side.times.gathered = since(side.start);
            jgather::xep0176::Transport all{r.ufrag, r.pwd,
                                            trickle ? std::vector<jgather::Candidate>{} : r.ice};
            all.end_of_candidates = true;
            deliver_xep0176(*side.peer, jgather::xep0176::write(all));
        };
    }
    // Credentials first, as a session-initiate/accept carries them.
    gchar* ufrag = nullptr;
    gchar* pwd = nullptr;
    nice_agent_get_local_credentials(side.agent, side.stream, &ufrag, &pwd);
    ready.arrive_and_wait(); // both agents exist: the peer can take what we post
    {
        Side* to = side.peer;
        std::string u = ufrag, p = pwd;
        post(to->context, [to, u, p] {
            nice_agent_set_remote_credentials(to->agent, to->stream, u.c_str(), p.c_str());
        });
    }
    g_free(ufrag);
    g_free(pwd);
    ready.arrive_and_wait(); // credentials posted on both sides
    side.start = Clock::now();
    if (side.gatherer) {
        (void)side.gatherer->gather();
    } else {
        nice_agent_gather_candidates(side.agent, side.stream);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    bool done = false;
    while (Clock::now() < deadline && !(done && finished.load() == 2)) {
        g_main_context_iteration(side.context, FALSE) || (g_usleep(200), true);
        if (!done && side.times.first_datagram >= 0 && side.times.gathered >= 0) {
            done = true;
            ++finished;
        }
    }
    if (!done) {
        ++finished;
    }
    ready.arrive_and_wait(); // neither agent goes while the other still posts to it
    nice_agent_attach_recv(side.agent, side.stream, 1, side.context, nullptr, nullptr);
    g_signal_handlers_disconnect_by_data(side.agent, &side);
    side.gatherer.reset();
    side.remote.reset();
    while (g_main_context_iteration(side.context, FALSE)) {
    }
    g_object_unref(side.agent);
    side.agent = nullptr;
    while (g_main_context_iteration(side.context, FALSE)) {
    }
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
    try {
        jgather::test::NatLab lab;
        jgather::test::Coturn coturn("203.0.113.1", 3478, lab.ns("srv"));
        jgather::test::XmppServerOptions xmpp;
        xmpp.netns = lab.ns("srv");
        xmpp.ip = "203.0.113.1";
        xmpp.port = 5222;
        xmpp.users = {{"alice", "secret123"}, {"bob", "secret123"}};
        const jgather::test::XmppServer prosody(jgather::test::XmppServer::Kind::Prosody, xmpp);
        Side a;
        Side b;
        a.netns = lab.ns("c1");
        b.netns = lab.ns("c2");
        a.ipv4 = "192.0.2.10"; // scripts/lab.sh
        b.ipv4 = "198.51.100.10";
        a.controlling = true;
        a.peer = &b;
        b.peer = &a;
        for (Side* s : {&a, &b}) {
            s->context = g_main_context_new();
            s->loop = jgather::glib::make_loop(s->context);
        }
        connect_xmpp(a, prosody, "alice");
        connect_xmpp(b, prosody, "bob");
        const Mode modes[] = {
            {"libnice alone, STUN", Layer::Libnice, Stun::Healthy, false, true},
            {"jgather + libnice, STUN", Layer::Jgather, Stun::Healthy, false, true},
            {"jgather + libnice, SIC only", Layer::Jgather, Stun::None, true, true},
            {"jgather, STUN, no trickle", Layer::Jgather, Stun::Healthy, false, false},
            {"SIC + dead STUN, trickle", Layer::Jgather, Stun::Dead, true, true},
            {"SIC + dead STUN, no trickle", Layer::Jgather, Stun::Dead, true, false},
        };
        constexpr std::size_t kModes = std::size(modes);
        std::vector<double> connected[kModes], first[kModes], gathered[kModes];
        int failures[kModes] = {};
        for (int round = 0; round < rounds; ++round) {
            for (std::size_t m = 0; m < kModes; ++m) {
                std::barrier<> ready(2);
                std::atomic<int> finished{0};
                const std::uint16_t port = modes[m].stun == Stun::Dead ? 3999 : 3478;
                std::thread ta([&] { run_side(a, modes[m], port, ready, finished); });
                std::thread tb([&] { run_side(b, modes[m], port, ready, finished); });
                ta.join();
                tb.join();
                if (a.times.connected < 0 || a.times.first_datagram < 0) {
                    ++failures[m];
                    continue;
                }
                connected[m].push_back(a.times.connected);
                first[m].push_back(a.times.first_datagram);
                gathered[m].push_back(a.times.gathered);
            }
        }
        std::printf("calls from behind NAT 1 to behind NAT 2, %d alternating rounds, medians (ms "
                    "from the start of both gatherings; controlling side)\n",
                    rounds);
        std::printf("%-30s %10s %8s %12s %8s %12s %8s %6s\n", "", "connected", "ratio",
                    "1st datagram", "ratio", "gather done", "ratio", "failed");
        const double base_c = median(connected[0]);
        const double base_f = median(first[0]);
        const double base_g = median(gathered[0]);
        for (std::size_t m = 0; m < kModes; ++m) {
            const double c = median(connected[m]);
            const double f = median(first[m]);
            const double g = median(gathered[m]);
            std::printf("%-30s %10.1f %7.2fx %12.1f %7.2fx %12.1f %7.2fx %6d\n", modes[m].label, c,
                        c / base_c, f, f / base_f, g, g / base_g, failures[m]);
        }
        std::printf("jgather + libnice (STUN) - libnice alone: connected %+.1f ms, first "
                    "datagram %+.1f ms, gathering-done %+.1f ms\n",
                    median(connected[1]) - base_c, median(first[1]) - base_f,
                    median(gathered[1]) - base_g);
        for (Side* s : {&a, &b}) {
            s->sic.reset();
            s->xmpp->on_connected = nullptr;
            s->xmpp->on_disconnected = nullptr;
            s->xmpp->disconnect();
            s->xmpp.reset();
            s->loop.reset();
            g_main_context_unref(s->context);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-call: %s\n", e.what());
        return 1;
    }
    return 0;
}
