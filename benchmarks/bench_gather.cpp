// Host-only gathering: time from gather() to the first candidate and to completion, jgather and
// libnice (the baseline) alternately on the same GMainContext, several rounds, medians printed
// side by side with the ratio jgather/libnice.
//
//   meson compile -C build && build/benchmarks/bench-gather [ROUNDS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/jgather.hpp>

#include "libnice_baseline.hpp"

namespace {

using bench::Clock;
using bench::median;
using bench::since;

struct Sample {
    double first_ms = 0;
    double done_ms = 0;
    std::size_t candidates = 0;
};

void iterate_until(GMainContext* context, const bool& done) {
    while (!done) {
        g_main_context_iteration(context, TRUE);
    }
}

Sample run_jgather(GMainContext* context, jgather::EventLoop& loop) {
    jgather::GatherOptions options;
    // The same work as libnice: one UDP socket per address, link-local included (libnice
    // gathers fe80:: addresses; jgather leaves them out by default).
    options.s5b = false;
    options.host.include_link_local = true;
    jgather::Gatherer gatherer(loop, options);
    Sample sample;
    bool done = false;
    Clock::time_point start;
    gatherer.on_candidate = [&](const jgather::Candidate&) {
        if (sample.candidates++ == 0) {
            sample.first_ms = since(start);
        }
    };
    gatherer.on_complete = [&](const jgather::GatherResult&) {
        sample.done_ms = since(start);
        done = true;
    };
    start = Clock::now();
    if (!gatherer.gather()) {
        std::fprintf(stderr, "jgather: gather() failed\n");
        std::exit(1);
    }
    iterate_until(context, done);
    return sample;
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
    GMainContext* context = g_main_context_new();
    auto loop = jgather::glib::make_loop(context);
    std::vector<double> jg_first, jg_done, nice_first, nice_done;
    std::size_t jg_count = 0, nice_count = 0;
    for (int i = 0; i < rounds; ++i) { // alternate, so drift hits both alike
        const Sample a = run_jgather(context, *loop);
        const bench::NiceSample b = bench::run_libnice(context);
        jg_first.push_back(a.first_ms);
        jg_done.push_back(a.done_ms);
        nice_first.push_back(b.first_ms);
        nice_done.push_back(b.done_ms);
        jg_count = a.candidates;
        nice_count = static_cast<std::size_t>(b.candidates);
    }
    std::printf("host-only gathering, %d rounds, medians (jgather %zu candidates, libnice %zu)\n",
                rounds, jg_count, nice_count);
    std::printf("%-28s %12s %12s %10s\n", "", "jgather ms", "libnice ms", "ratio");
    std::printf("%-28s %12.3f %12.3f %10.3f\n", "gather() to first candidate", median(jg_first),
                median(nice_first), median(jg_first) / median(nice_first));
    std::printf("%-28s %12.3f %12.3f %10.3f\n", "gather() to complete", median(jg_done),
                median(nice_done), median(jg_done) / median(nice_done));
    loop.reset();
    g_main_context_unref(context);
    return 0;
}
