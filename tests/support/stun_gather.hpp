// Test support: one gathering with the STUN source from given loopback bases, for the tests
// against real and scripted STUN servers on loopback.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "support/glib_loop.hpp"

namespace jgather::test {

/** @brief A finished gathering and the STUN source's report in it. */
struct StunRun {
    GatherResult result;
    SourceReport stun;
};

/** Gathers ICE candidates (no SOCKS5) from bases on @p base_ips (on "lo") with @p components
 * components, and a StunSource with @p stun asking @p servers ("IP:PORT" or "[IPv6]:PORT"). */
inline StunRun gather_with_stun(const std::vector<std::string>& servers, StunOptions stun = {},
                                const std::vector<const char*>& base_ips = {"127.0.0.1"},
                                unsigned components = 1) {
    TestLoop t;
    for (const auto& s : servers) {
        stun.servers.push_back(*StunSource::parse_server(s));
    }
    GatherOptions options;
    options.host.include_loopback = true;
    std::vector<LocalAddress> bases;
    for (const char* ip : base_ips) {
        LocalAddress a;
        a.ip = *IpAddress::parse(ip);
        a.interface = "lo";
        a.interface_index = 1;
        bases.push_back(a);
    }
    options.host.addresses = bases;
    options.s5b = false;
    options.components = components;
    Gatherer g(t.loop(), options);
    g.add_source(std::make_unique<StunSource>(stun));
    EXPECT_TRUE(g.gather());
    EXPECT_TRUE(t.run_until([&] { return g.complete(); }, std::chrono::seconds(10)));
    StunRun run{g.result(), {}};
    for (const auto& s : run.result.sources) {
        if (s.name == "stun") {
            run.stun = s;
        }
    }
    return run;
}

} // namespace jgather::test
