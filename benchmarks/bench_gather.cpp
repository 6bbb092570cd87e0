// Host-only gathering: time from gather() to the first candidate and to completion, jgather and
// libnice (the baseline) alternately on the same GMainContext, several rounds, medians printed
// side by side with the ratio jgather/libnice.
//
//   meson compile -C build && build/benchmarks/bench-gather [ROUNDS]
#include <agent.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/jgather.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Sample {
    double first_ms = 0;
    double done_ms = 0;
    std::size_t candidates = 0;
};

double since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

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

struct NiceRun {
    Sample sample;
    Clock::time_point start;
    bool done = false;
};

Sample run_libnice(GMainContext* context) {
    NiceAgent* agent = nice_agent_new(context, NICE_COMPATIBILITY_RFC5245);
    // interop.md: upnp on delays gathering-done by ≈200 ms; ice-tcp adds tcp-active candidates.
    g_object_set(agent, "upnp", FALSE, "ice-tcp", FALSE, nullptr);
    NiceRun run;
    const gulong on_candidate = g_signal_connect(
        agent, "new-candidate-full", G_CALLBACK(+[](NiceAgent*, NiceCandidate*, gpointer data) {
            auto* r = static_cast<NiceRun*>(data);
            if (r->sample.candidates++ == 0) {
                r->sample.first_ms = since(r->start);
            }
        }),
        &run);
    const gulong on_done = g_signal_connect(agent, "candidate-gathering-done",
                                            G_CALLBACK(+[](NiceAgent*, guint, gpointer data) {
                                                auto* r = static_cast<NiceRun*>(data);
                                                r->sample.done_ms = since(r->start);
                                                r->done = true;
                                            }),
                                            &run);
    run.start = Clock::now();
    const guint stream = nice_agent_add_stream(agent, 1);
    nice_agent_gather_candidates(agent, stream);
    iterate_until(context, run.done);
    g_signal_handler_disconnect(agent, on_candidate);
    g_signal_handler_disconnect(agent, on_done);
    nice_agent_remove_stream(agent, stream);
    g_object_unref(agent);
    while (g_main_context_iteration(context, FALSE)) {
    }
    return run.sample;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
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
        const Sample b = run_libnice(context);
        jg_first.push_back(a.first_ms);
        jg_done.push_back(a.done_ms);
        nice_first.push_back(b.first_ms);
        nice_done.push_back(b.done_ms);
        jg_count = a.candidates;
        nice_count = b.candidates;
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
