// Gathering with STUN in the NAT lab: jgather (host + STUN, and host + STUN + Server IP Check
// over an XMPP connection made before the rounds) and libnice's NiceAgent (one stream, one
// component, the same STUN server, upnp and ice-tcp off) alternately in the same run, from the
// client behind NAT 1, against coturn and prosody on the lab's public side that this program
// starts, with a healthy STUN server and with one that never answers. Prints medians and
// jgather/libnice.
//
//   JGATHER_SOURCE_DIR=$PWD build/benchmarks/bench-stun [ROUNDS]     (root; coturn installed)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/sources/sic.hpp>

#include "libnice_baseline.hpp"
#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"
#include "xmpp_account.hpp"

namespace {

using bench::Clock;
using bench::median;
using bench::since;

struct Sample {
    double done_ms = 0;
    int srflx = 0;
    int sic = 0;
};

// One gathering with host + STUN against 203.0.113.1:@p port (and :@p second_port if set),
// with @p components components, and SIC from @p sic if given. Pacing (Ta) is the default 50 ms.
Sample run_jgather(GMainContext* context, jgather::EventLoop& loop, std::uint16_t port,
                   jgather::SicService* sic = nullptr, unsigned components = 1,
                   std::uint16_t second_port = 0) {
    jgather::GatherOptions options;
    options.components = components;
    // Like libnice: host candidates on every address (IPv4 and IPv6 in the lab), STUN from the
    // IPv4 bases to the IPv4 servers.
    jgather::Gatherer gatherer(loop, options);
    jgather::StunOptions stun;
    // Every round waits for a dead server again, as libnice does: the figure is the give-up
    // itself (bench-scale measures the health memory that skips it).
    stun.remember_silence = std::chrono::milliseconds(0);
    stun.servers = {{*jgather::IpAddress::parse("203.0.113.1"), port}};
    if (second_port != 0) {
        stun.servers.push_back({*jgather::IpAddress::parse("203.0.113.1"), second_port});
    }
    gatherer.add_source(std::make_unique<jgather::StunSource>(stun));
    if (sic) {
        gatherer.add_source(sic->source());
    }
    Sample sample;
    bool done = false;
    const auto start = Clock::now();
    gatherer.on_complete = [&](const jgather::GatherResult& r) {
        sample.done_ms = since(start);
        for (const auto& e : r.external_addresses) {
            sample.srflx += e.origin.source == "stun";
            sample.sic += e.origin.source == "sic";
        }
        done = true;
    };
    if (!gatherer.gather()) {
        std::exit(1);
    }
    while (!done) {
        g_main_context_iteration(context, TRUE);
    }
    return sample;
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 7;
    try {
        jgather::test::NatLab lab;
        const std::uint16_t healthy = 3478;
        jgather::test::Coturn coturn("203.0.113.1", healthy, lab.ns("srv"));
        const std::uint16_t second = 3480;
        jgather::test::Coturn coturn2("203.0.113.1", second, lab.ns("srv"));
        jgather::test::XmppServerOptions xmpp;
        xmpp.netns = lab.ns("srv");
        xmpp.ip = "203.0.113.1";
        xmpp.port = 5222;
        const jgather::test::XmppServer prosody(jgather::test::XmppServer::Kind::Prosody, xmpp);
        const std::uint16_t dead = 3999; // nothing listens there
        jgather::test::EnterNetns client(lab.ns("c1"));
        GMainContext* context = g_main_context_new();
        auto loop = jgather::glib::make_loop(context);
        auto connection = bench::connect(context, prosody, "bench-stun");
        std::printf("gathering to completion from behind NAT 1, %d alternating rounds, medians;\n"
                    "jgather host + STUN (+ SIC over a connected client), libnice host + STUN\n",
                    rounds);
        std::printf("%-26s %12s %12s %10s\n", "", "jgather ms", "libnice ms", "ratio");
        // SIC: "fresh" asks prosody in every round (a new SicService: disco#info, then the
        // query); "cached" reuses one service, whose answer the first round cached, as an
        // application with a long-lived connection does.
        enum class Sic { None, Fresh, Cached };
        struct Variant {
            const char* label;
            std::uint16_t port;
            Sic sic;
            unsigned components = 1;
            std::uint16_t second_port = 0;
        };
        auto cached_sic = std::make_unique<jgather::SicService>(*connection);
        for (const Variant& v :
             {Variant{"healthy server (coturn)", healthy, Sic::None},
              Variant{"  + SIC, asked each round", healthy, Sic::Fresh},
              Variant{"  + SIC, answer cached", healthy, Sic::Cached},
              Variant{"server never answers", dead, Sic::None},
              // 2 IPv4 bases (components) × 2 servers = 4 transactions,
              // 50 ms apart; libnice asks its one server from both.
              Variant{"2 bases x 2 servers, Ta 50", healthy, Sic::None, 2, second}}) {
            std::vector<double> jg, ni;
            Sample last;
            int ni_srflx = 0;
            for (int i = 0; i < rounds; ++i) {
                std::unique_ptr<jgather::SicService> fresh;
                jgather::SicService* sic = nullptr;
                if (v.sic == Sic::Fresh) {
                    fresh = std::make_unique<jgather::SicService>(*connection);
                    sic = fresh.get();
                } else if (v.sic == Sic::Cached) {
                    sic = cached_sic.get();
                }
                last = run_jgather(context, *loop, v.port, sic, v.components, v.second_port);
                const bench::NiceSample b =
                    bench::run_libnice(context, "203.0.113.1", v.port, v.components);
                jg.push_back(last.done_ms);
                ni.push_back(b.done_ms);
                ni_srflx = b.srflx;
            }
            std::printf("%-26s %12.2f %12.2f %10.3f   (mappings: jgather %d%s, libnice %d)\n",
                        v.label, median(jg), median(ni), median(jg) / median(ni), last.srflx,
                        v.sic == Sic::None ? "" : (last.sic ? " + SIC" : " + no SIC answer!"),
                        ni_srflx);
        }
        cached_sic.reset();
        connection.reset();
        loop.reset();
        g_main_context_unref(context);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-stun: %s\n", e.what());
        return 1;
    }
    return 0;
}
