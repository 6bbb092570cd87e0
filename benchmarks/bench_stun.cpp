// Gathering with STUN in the NAT lab: jgather (host + STUN) and libnice's NiceAgent (one stream,
// one component, the same STUN server, upnp and ice-tcp off) alternately in the same run, from
// the client behind NAT 1, against coturn on the lab's public side that this program starts,
// with a healthy server and with one that never answers. Prints medians and jgather/libnice.
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
#include <jgather/jgather.hpp>

#include "libnice_baseline.hpp"
#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"

namespace {

using bench::Clock;
using bench::median;
using bench::since;

struct Sample {
    double done_ms = 0;
    int srflx = 0;
};

Sample run_jgather(GMainContext* context, jgather::EventLoop& loop, std::uint16_t port) {
    jgather::GatherOptions options;
    options.s5b = false;
    options.host.ipv6 = false; // libnice's stun-server is one IPv4 address: the same work
    jgather::Gatherer gatherer(loop, options);
    jgather::StunOptions stun;
    stun.servers = {{*jgather::IpAddress::parse("203.0.113.1"), port}};
    gatherer.add_source(std::make_unique<jgather::StunSource>(stun));
    Sample sample;
    bool done = false;
    const auto start = Clock::now();
    gatherer.on_complete = [&](const jgather::GatherResult& r) {
        sample.done_ms = since(start);
        for (const auto& e : r.external_addresses) {
            sample.srflx += e.origin.source == "stun";
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
        const std::uint16_t dead = 3999; // nothing listens there
        jgather::test::EnterNetns client(lab.ns("c1"));
        GMainContext* context = g_main_context_new();
        auto loop = jgather::glib::make_loop(context);
        std::printf("host + STUN gathering, %d alternating rounds, medians\n", rounds);
        std::printf("%-26s %12s %12s %10s\n", "", "jgather ms", "libnice ms", "ratio");
        for (const auto& [label, port] : {std::pair{"healthy server (coturn)", healthy},
                                          std::pair{"server never answers", dead}}) {
            std::vector<double> jg, ni;
            int jg_srflx = 0, ni_srflx = 0;
            for (int i = 0; i < rounds; ++i) {
                const Sample a = run_jgather(context, *loop, port);
                const bench::NiceSample b = bench::run_libnice(context, "203.0.113.1", port);
                jg.push_back(a.done_ms);
                ni.push_back(b.done_ms);
                jg_srflx = a.srflx;
                ni_srflx = b.srflx;
            }
            std::printf("%-26s %12.2f %12.2f %10.3f   (mappings: jgather %d, libnice %d)\n", label,
                        median(jg), median(ni), median(jg) / median(ni), jg_srflx, ni_srflx);
        }
        loop.reset();
        g_main_context_unref(context);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-stun: %s\n", e.what());
        return 1;
    }
    return 0;
}
