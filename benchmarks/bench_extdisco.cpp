// STUN and TURN from the XMPP server (XEP-0215) in the NAT lab: from the client behind NAT 1, a
// NiceAgent (one stream, one component, upnp and ice-tcp off) gathers host, srflx and relay
// candidates from the lab's coturn (STUN + TURN with TURN-REST credentials), configured
//   - by hand, libnice alone and through jgather (the credentials made by this program from
//     the shared secret);
//   - by jgather from prosody's announcement (ExtdiscoService), asked in every round (a new
//     service: one <services/> round trip before gathering), and cached (one service for all
//     rounds, as an application with a long-lived connection has);
// and with a TURN server that never answers, by hand in both. Modes alternate round by round;
// medians, ms from the start of the round (discovery included) to the relay candidate and to
// gathering done, and each mode against libnice by hand.
//
//   JGATHER_SOURCE_DIR=$PWD build/benchmarks/bench-extdisco [ROUNDS]    (root; coturn, prosody)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/nice.hpp>
#include <jgather/sources/extdisco.hpp>

#include "libnice_baseline.hpp"
#include "support/netns.hpp"
#include "support/turn_credentials.hpp"
#include "support/xmpp_servers.hpp"
#include "xmpp_account.hpp"

namespace {

using bench::Clock;
using bench::median;
using bench::since;

constexpr const char* kSecret = "bench-turn-secret";
constexpr const char* kServer = "203.0.113.1";
constexpr const char* kDeadServer = "203.0.113.99"; // nothing there: sends are lost

struct Sample {
    double discovery_ms = -1; // the services' answer (not cached: one XMPP round trip)
    double relay_ms = -1;     // the first relay candidate
    double done_ms = 0;       // gathering done (libnice's candidate-gathering-done)
};

// libnice alone: stun-server and one TURN server over UDP, set by hand.
Sample run_libnice(GMainContext* context, const char* turn_ip, const std::string& user,
                   const std::string& password) {
    const bench::NiceRelay relay{turn_ip, 3478, user, password};
    const bench::NiceSample b = bench::run_libnice(context, kServer, 3478, 1, &relay);
    return {-1, b.relay_ms, b.done_ms};
}

// jgather on the application's NiceAgent: the services from @p services (asked first, as
// jgather-call does, so that libnice gets the STUN server too), or @p by_hand TURN servers.
Sample run_jgather(GMainContext* context, jgather::EventLoop& loop,
                   jgather::ExtdiscoService* services, std::vector<jgather::TurnServer> by_hand) {
    Sample sample;
    const auto start = Clock::now();
    bool answered = services == nullptr;
    if (services) {
        services->request([&](const jgather::ExternalServices& found) {
            sample.discovery_ms = since(start);
            if (!found.error.empty()) {
                std::fprintf(stderr, "bench-extdisco: discovery failed: %s\n", found.error.c_str());
                std::exit(1);
            }
            answered = true;
        });
    }
    while (!answered) {
        g_main_context_iteration(context, TRUE);
    }
    jgather::GatherOptions options;
    options.host.ipv6 = false; // the agent's one IPv4 address, as libnice alone has in the lab
    options.deadline = std::chrono::milliseconds(10000);
    jgather::Gatherer gatherer(loop, options);
    NiceAgent* agent = nice_agent_new(context, NICE_COMPATIBILITY_RFC5245);
    const guint stream = nice_agent_add_stream(agent, 1);
    nice_agent_attach_recv(
        agent, stream, 1, context, +[](NiceAgent*, guint, guint, guint, gchar*, gpointer) {},
        nullptr);
    jgather::nice::AgentOptions agent_options;
    agent_options.services = services;
    agent_options.relays = std::move(by_hand);
    if (!services) {
        agent_options.stun_server = {*jgather::IpAddress::parse(kServer), 3478};
    }
    if (auto attached = jgather::nice::attach(gatherer, agent, stream, agent_options); !attached) {
        std::fprintf(stderr, "bench-extdisco: %s\n", attached.error().message.c_str());
        std::exit(1);
    }
    bool done = false;
    gatherer.on_candidate = [&](const jgather::Candidate& c) {
        if (c.ice() && c.ice()->type == jgather::IceType::Relay && sample.relay_ms < 0) {
            sample.relay_ms = since(start);
        }
    };
    gatherer.on_complete = [&](const jgather::GatherResult&) {
        sample.done_ms = since(start);
        done = true;
    };
    if (auto started = gatherer.gather(); !started) {
        std::fprintf(stderr, "bench-extdisco: %s\n", started.error().message.c_str());
        std::exit(1);
    }
    while (!done) {
        g_main_context_iteration(context, TRUE);
    }
    nice_agent_attach_recv(agent, stream, 1, context, nullptr, nullptr);
    g_object_unref(agent);
    while (g_main_context_iteration(context, FALSE)) {
    }
    return sample;
}

std::string ms_or_none(double ms) {
    char text[32];
    if (ms < 0) {
        return "-";
    }
    std::snprintf(text, sizeof text, "%.1f", ms);
    return text;
}

std::string ratio(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", value);
    return text;
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
    try {
        jgather::test::NatLab lab;
        jgather::test::Coturn coturn(kServer, 3478, lab.ns("srv"), kSecret);
        jgather::test::XmppServerOptions xmpp;
        xmpp.netns = lab.ns("srv");
        xmpp.ip = kServer;
        xmpp.port = 5222;
        xmpp.extdisco_secret = kSecret;
        const jgather::test::XmppServer prosody(jgather::test::XmppServer::Kind::Prosody, xmpp);
        jgather::test::EnterNetns client(lab.ns("c1"));
        GMainContext* context = g_main_context_new();
        auto loop = jgather::glib::make_loop(context);
        auto connection = bench::connect(context, prosody, "bench-extdisco");
        const auto [user, password] = jgather::test::turn_rest_credentials(kSecret, "romeo");
        const auto turn = [&](const char* ip) {
            return std::vector<jgather::TurnServer>{*jgather::make_turn_server(
                ip, user, password, jgather::RelayTransport::Udp, "by hand")};
        };
        auto cached = std::make_unique<jgather::ExtdiscoService>(*connection);
        run_jgather(context, *loop, cached.get(), {}); // the first answer, now cached

        enum class Mode { LibniceByHand, JgatherByHand, Fresh, Cached, LibniceDead, JgatherDead };
        struct Row {
            const char* label;
            Mode mode;
            std::vector<double> discovery, relay, done;
        };
        std::vector<Row> rows = {
            {"libnice alone, by hand", Mode::LibniceByHand, {}, {}, {}},
            {"jgather, by hand", Mode::JgatherByHand, {}, {}, {}},
            {"jgather, XEP-0215 asked", Mode::Fresh, {}, {}, {}},
            {"jgather, XEP-0215 cached", Mode::Cached, {}, {}, {}},
            {"libnice alone, dead TURN", Mode::LibniceDead, {}, {}, {}},
            {"jgather, dead TURN", Mode::JgatherDead, {}, {}, {}},
        };
        for (int i = 0; i < rounds; ++i) {
            for (Row& row : rows) {
                Sample s;
                switch (row.mode) {
                case Mode::LibniceByHand:
                    s = run_libnice(context, kServer, user, password);
                    break;
                case Mode::JgatherByHand:
                    s = run_jgather(context, *loop, nullptr, turn(kServer));
                    break;
                case Mode::Fresh: {
                    jgather::ExtdiscoService fresh(*connection);
                    s = run_jgather(context, *loop, &fresh, {});
                    break;
                }
                case Mode::Cached:
                    s = run_jgather(context, *loop, cached.get(), {});
                    break;
                case Mode::LibniceDead:
                    s = run_libnice(context, kDeadServer, user, password);
                    break;
                case Mode::JgatherDead:
                    s = run_jgather(context, *loop, nullptr, turn(kDeadServer));
                    break;
                }
                if (s.discovery_ms >= 0) {
                    row.discovery.push_back(s.discovery_ms);
                }
                if (s.relay_ms >= 0) {
                    row.relay.push_back(s.relay_ms);
                }
                row.done.push_back(s.done_ms);
            }
        }
        std::printf("from behind NAT 1: host + srflx + relay (coturn), %d alternating rounds, "
                    "medians, ms from the round's start\n",
                    rounds);
        std::printf("%-26s %10s %10s %8s %10s %8s %7s\n", "", "discovery", "relay", "ratio", "done",
                    "ratio", "relays");
        const double base_relay = median(rows[0].relay);
        const double base_done = median(rows[0].done);
        const double dead_done = median(rows[4].done);
        for (const Row& row : rows) {
            const bool dead = row.mode == Mode::LibniceDead || row.mode == Mode::JgatherDead;
            const double relay = row.relay.empty() ? -1 : median(row.relay);
            const double done = median(row.done);
            std::printf("%-26s %10s %10s %8s %10.1f %8.3f %4zu/%d\n", row.label,
                        ms_or_none(row.discovery.empty() ? -1 : median(row.discovery)).c_str(),
                        ms_or_none(relay).c_str(),
                        relay < 0 || dead ? "-" : ratio(relay / base_relay).c_str(), done,
                        done / (dead ? dead_done : base_done), row.relay.size(), rounds);
        }
        std::printf("(ratios against libnice alone with the same TURN server, healthy or dead)\n");
        cached.reset();
        connection.reset();
        loop.reset();
        g_main_context_unref(context);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-extdisco: %s\n", e.what());
        return 1;
    }
    return 0;
}
