// Writer and reader throughput for a 10-candidate XEP-0176 transport: jgather against gloox's
// own Jingle::ICEUDP (parse with gloox::Parser, then build ICEUDP from the Tag), same run.
//
//   build/benchmarks/bench-xep0176 [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gloox/jingleiceudp.h>
#include <gloox/parser.h>
#include <gloox/tag.h>
#include <gloox/taghandler.h>

#include <jgather/xep0176.hpp>

namespace {

using Clock = std::chrono::steady_clock;

jgather::xep0176::Transport sample_transport() {
    jgather::xep0176::Transport t{"8hhy", "asd88fgpdd777uzjYhagZg", {}};
    for (int i = 0; i < 10; ++i) {
        jgather::Candidate c;
        c.host =
            i % 2 ? "192.0.2." + std::to_string(10 + i) : "2001:db8::" + std::to_string(10 + i);
        c.port = static_cast<std::uint16_t>(40000 + i);
        c.priority = 2130706431U - static_cast<unsigned>(i) * 256U;
        c.ice()->foundation = std::to_string(i + 1);
        c.ice()->id = "cand" + std::to_string(i);
        c.ice()->network = 2;
        c.ice()->type = i < 6 ? jgather::IceType::Host : jgather::IceType::Srflx;
        if (c.ice()->type == jgather::IceType::Srflx) {
            c.ice()->related =
                jgather::TransportAddress{*jgather::IpAddress::parse("192.0.2.10"), 40000};
        }
        t.candidates.push_back(c);
    }
    return t;
}

gloox::Jingle::ICEUDP::CandidateList gloox_candidates(const jgather::xep0176::Transport& t) {
    gloox::Jingle::ICEUDP::CandidateList list;
    for (const auto& c : t.candidates) {
        gloox::Jingle::ICEUDP::Candidate g;
        g.component = "1";
        g.foundation = c.ice()->foundation;
        g.generation = "0";
        g.id = c.ice()->id;
        g.ip = c.host;
        g.network = "2";
        g.port = c.port;
        g.priority = static_cast<int>(c.priority);
        g.protocol = "udp";
        g.rel_addr = c.ice()->related ? c.ice()->related->ip.to_string() : "";
        g.rel_port = c.ice()->related ? c.ice()->related->port : 0;
        g.type = c.ice()->type == jgather::IceType::Host ? gloox::Jingle::ICEUDP::Host
                                                         : gloox::Jingle::ICEUDP::ServerReflexive;
        list.push_back(g);
    }
    return list;
}

// gloox's way to read: the parser hands over the element, ICEUDP reads it in place.
class ReadIceUdp final : public gloox::TagHandler {
public:
    void handleTag(gloox::Tag* tag) override {
        count = gloox::Jingle::ICEUDP(tag).candidates().size();
    }
    std::size_t count = 0;
};

template <typename F> double ns_per_op(int iterations, F&& f) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) {
        f();
    }
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

volatile std::size_t sink; // keeps results alive

} // namespace

int main(int argc, char** argv) {
    // Batches alternate between the two implementations so that frequency changes and other
    // load hit both alike; the medians of the batches are compared.
    const int batches = argc > 1 ? std::atoi(argv[1]) : 200;
    constexpr int kBatch = 100;
    const auto transport = sample_transport();
    auto list = gloox_candidates(transport);
    const std::string xml = jgather::xep0176::write(transport);

    const auto jg_write = [&] {
        sink = jgather::xep0176::write(transport).size();
    };
    const auto gl_write = [&] {
        gloox::Jingle::ICEUDP ice(transport.pwd, transport.ufrag, list);
        std::unique_ptr<gloox::Tag> tag(ice.tag());
        sink = tag->xml().size();
    };
    const auto jg_read = [&] {
        auto r = jgather::xep0176::read(xml);
        sink = r ? r->candidates.size() : 0;
    };
    const auto gl_read = [&] {
        ReadIceUdp reader;
        gloox::Parser parser(&reader);
        std::string copy = xml;
        parser.feed(copy);
        sink = reader.count;
    };
    if (!jgather::xep0176::read(xml)) {
        std::fprintf(stderr, "the sample does not read back\n");
        return 1;
    }
    std::vector<double> w_jg, w_gl, r_jg, r_gl;
    for (int b = 0; b < batches + 10; ++b) {
        const double a = ns_per_op(kBatch, jg_write);
        const double c = ns_per_op(kBatch, gl_write);
        const double d = ns_per_op(kBatch, jg_read);
        const double e = ns_per_op(kBatch, gl_read);
        if (b >= 10) { // the first batches warm caches and the allocator
            w_jg.push_back(a);
            w_gl.push_back(c);
            r_jg.push_back(d);
            r_gl.push_back(e);
        }
    }
    std::printf("XEP-0176 transport with 10 candidates (%zu bytes): median of %d alternating "
                "batches of %d\n",
                xml.size(), batches, kBatch);
    std::printf("%-8s %14s %14s %10s\n", "", "jgather ns/op", "gloox ns/op", "ratio");
    std::printf("%-8s %14.0f %14.0f %10.3f\n", "write", median(w_jg), median(w_gl),
                median(w_jg) / median(w_gl));
    std::printf("%-8s %14.0f %14.0f %10.3f\n", "read", median(r_jg), median(r_gl),
                median(r_jg) / median(r_gl));
    return 0;
}
