// Scale: N concurrent gatherings on one GMainContext, jgather and libnice 0.1.21 alternately in
// the same run, host-only and host + STUN (coturn), inside a network namespace of its own
// (one address, 192.0.2.10 on a veth; IPv6 off so that both gather exactly one base).
//
// Per N and mode: wall time to all complete; median and 99th-percentile latency of one
// gathering (its gather() to its completion); CPU per gathering (getrusage); RSS and fds per
// gathering while all are alive; memory returned after they are destroyed (malloc_trim). Then:
// a lone gathering, the given-addresses mode, and a second gathering against a dead server.
//
//   sudo build/benchmarks/bench-scale [N ...]        (default: 100 1000 10000 where fds allow)
//   sudo build/benchmarks/bench-scale --profile [--paced] N ...   (jgather alone, for profilers)
#include <agent.h>
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/jgather.hpp>
#include <jgather/sources/stun.hpp>

#include "libnice_baseline.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"
#include "support/xmpp_servers.hpp"

namespace {

using bench::Clock;
using bench::since;

constexpr const char* kAddress = "192.0.2.10";

double to_ms(const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
}

double cpu_ms() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return to_ms(usage.ru_utime) + to_ms(usage.ru_stime);
}

double system_cpu_ms() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return to_ms(usage.ru_stime);
}

long minor_faults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

long rss_kb() {
    long pages_total = 0;
    long pages_resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) {
            pages_resident = 0;
        }
        std::fclose(f);
    }
    return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}


double percentile(std::vector<double> v, double p) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Figures {
    double wall_ms = 0;
    double median_ms = 0;
    double p99_ms = 0;
    double cpu_us = 0;          // per gathering
    double system_us = 0;       // of which in the kernel (syscalls, page faults)
    double faults = 0;          // minor page faults per gathering
    double after_median_ms = 0; // completion counted from the end of the burst (the loop's
    double after_p99_ms = 0;    // first chance to run): the fairness of the loop's share
    double served_median_ms = 0;     // completion counted from its own start (its sources' start()
    double served_p99_ms = 0;        // in the loop's start queue; host only: the burst's end)
    double paced_median_ms = 0;      // gather() to that start: the work it queued behind
    std::vector<double> to_answer;   // with Setup::stamp_answers: its start to the server's
    std::vector<double> from_answer; // answer, and the answer to its completion
    std::vector<double> turn_wait;   // with stamp_answers: gather() to its first send, and
    std::vector<double> from_send;   // that send to its completion
    double rss_kb = 0;          // per gathering, all alive
    double fds = 0;             // per gathering, all alive
    double returned = 0;        // share of the growth given back after destroy
    int candidates = 0;         // total srflx (STUN) or host candidates, as a check
};

double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

// When one gathering's STUN source started and first saw a datagram (the server's answer).
struct Stamps {
    Clock::time_point started{};
    Clock::time_point sent{}; // its first request: with the loop's pacer, its turn
    Clock::time_point answered{};
};

// Forwards everything to the gatherer's sink; notes the first datagram offered to the source.
// Only for the latency breakdown: the library's own sink also tells its sources the gathering's
// network namespace, which a foreign sink does not (the source then reads it itself).
class StampingSink final : public jgather::SourceSink {
public:
    StampingSink(jgather::SourceSink& inner, Stamps& stamps) : inner_(inner), stamps_(stamps) {}
    jgather::EventLoop& loop() override { return inner_.loop(); }
    std::span<const jgather::Base> bases() const override { return inner_.bases(); }
    std::span<const jgather::LocalAddress> local_addresses() const override {
        return inner_.local_addresses();
    }
    std::chrono::milliseconds time_left() const override { return inner_.time_left(); }
    std::span<const jgather::DroppedAddress> unbound() const override { return inner_.unbound(); }
    void add_external_address(jgather::ExternalAddress a) override {
        inner_.add_external_address(std::move(a));
    }
    void add_candidate(jgather::SourceCandidate c) override { inner_.add_candidate(std::move(c)); }
    void add_proxy(jgather::ProxyFinding p) override { inner_.add_proxy(std::move(p)); }
    void finish(jgather::SourceStatus status) override { inner_.finish(std::move(status)); }
    jgather::Result<void> send_datagram(std::size_t base, std::span<const std::uint8_t> data,
                                        const jgather::TransportAddress& to) override {
        if (stamps_.sent == Clock::time_point{}) {
            stamps_.sent = Clock::now();
        }
        return inner_.send_datagram(base, data, to);
    }
    void receive_datagrams(jgather::DatagramHandler handler) override {
        inner_.receive_datagrams(
            [handler = std::move(handler), &stamps = stamps_](const jgather::Datagram& datagram) {
                if (stamps.answered == Clock::time_point{}) {
                    stamps.answered = Clock::now();
                }
                return handler(datagram);
            });
    }

private:
    jgather::SourceSink& inner_;
    Stamps& stamps_;
};

// Forwards to a source and notes when the gatherer started it: the end of the gathering's wait
// in the loop's start queue (the work it queued behind) and the start of its own service.
class StampedSource final : public jgather::Source {
public:
    StampedSource(std::unique_ptr<jgather::Source> inner, Stamps& stamps, bool stamp_answers)
        : inner_(std::move(inner)), stamps_(stamps), stamp_answers_(stamp_answers) {}
    std::string name() const override { return inner_->name(); }
    void start(jgather::SourceSink& sink) override {
        stamps_.started = Clock::now();
        if (stamp_answers_) {
            sink_.emplace(sink, stamps_);
            inner_->start(*sink_);
        } else {
            inner_->start(sink);
        }
    }
    void stop() override { inner_->stop(); }

private:
    std::unique_ptr<jgather::Source> inner_;
    Stamps& stamps_;
    bool stamp_answers_;
    std::optional<StampingSink> sink_;
};

// Runs what is pending; then gives the heap's free memory back to the system, so that every
// run starts from a cold heap and touches its memory afresh (page faults included), unless
// @p keep_heap (the warm-heap figures: what an earlier burst freed is reused).
void settle(GMainContext* context, bool keep_heap = false) {
    while (g_main_context_iteration(context, FALSE)) {
    }
    if (!keep_heap) {
        malloc_trim(0);
    }
}

struct Setup {
    GMainContext* context;
    jgather::EventLoop* loop;
    std::uint16_t stun_port; // 0: host only
    bool given_addresses = false;
    bool stamp_answers = false; // the latency breakdown's run (a forwarding sink: not for CPU)
    // The table's runs pace per gathering, as libnice paces per agent; the RFC 8445 §14.2 run
    // paces with the loop (the default), with a deadline long enough for N turns.
    jgather::StunPacingScope scope = jgather::StunPacingScope::Gathering;
    std::chrono::milliseconds deadline{0}; // 0: the default
    bool keep_heap = false; // warm heap: no malloc_trim() around the run (see warm_heap_cpu())
};

// The STUN server alone, as the gatherings use it, from plain sockets: each of n sockets is
// opened, bound and asked its port, registered and sends one Binding request, in one burst;
// every answer is read as it comes, then each socket is unregistered and closed. Milliseconds
// from each send to its answer; and the CPU per socket: the system calls one host + STUN
// gathering cannot do without, with nothing of jgather's (or anyone's) around them.
struct PlainSockets {
    std::vector<double> answered;
    double cpu_us = 0;
    double system_us = 0;
    double faults = 0;
};

PlainSockets plain_sockets(std::uint16_t port, int n) {
    PlainSockets result;
    std::vector<int> sockets;
    sockets.reserve(static_cast<std::size_t>(n));
    std::vector<Clock::time_point> sent(static_cast<std::size_t>(n));
    result.answered.reserve(static_cast<std::size_t>(n));
    const double cpu0 = cpu_ms();
    const double sys0 = system_cpu_ms();
    const long faults0 = minor_faults();
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(port);
    ::inet_pton(AF_INET, kAddress, &server.sin_addr);
    for (int i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr = server.sin_addr; // the one address: port 0, the system's choice
        socklen_t local_length = sizeof local;
        (void)::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local);
        (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u32 = static_cast<std::uint32_t>(i);
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
        sockets.push_back(fd);
        // RFC 8489 §5: a Binding request, no attributes; the magic cookie, a transaction id.
        std::array<std::uint8_t, 20> request{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
        for (std::size_t b = 8; b < request.size(); ++b) {
            request[b] = static_cast<std::uint8_t>(g_random_int());
        }
        sent[static_cast<std::size_t>(i)] = Clock::now();
        (void)::sendto(fd, request.data(), request.size(), 0,
                       reinterpret_cast<const sockaddr*>(&server), sizeof server);
    }
    std::array<epoll_event, 64> events{};
    const auto give_up = Clock::now() + std::chrono::seconds(5);
    while (static_cast<int>(result.answered.size()) < n && Clock::now() < give_up) {
        const int ready = ::epoll_wait(epoll, events.data(), events.size(), 100);
        for (int e = 0; e < ready; ++e) {
            const std::size_t i = events[static_cast<std::size_t>(e)].data.u32;
            std::array<std::uint8_t, 1500> buffer; // not zeroed: recv() fills what it reads
            if (::recv(sockets[i], buffer.data(), buffer.size(), 0) > 0) {
                result.answered.push_back(ms_between(sent[i], Clock::now()));
                ::epoll_ctl(epoll, EPOLL_CTL_DEL, sockets[i], nullptr);
                ::close(sockets[i]);
                sockets[i] = -1;
            }
        }
    }
    for (const int fd : sockets) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    ::close(epoll);
    result.cpu_us = (cpu_ms() - cpu0) * 1e3 / n;
    result.system_us = (system_cpu_ms() - sys0) * 1e3 / n;
    result.faults = static_cast<double>(minor_faults() - faults0) / n;
    return result;
}

Figures run_jgather(const Setup& s, int n) {
    settle(s.context, s.keep_heap);
    const long rss0 = rss_kb();
    const int fds0 = jgather::test::open_fds();
    const double cpu0 = cpu_ms();
    const double sys0 = system_cpu_ms();
    const long faults0 = minor_faults();
    std::vector<std::unique_ptr<jgather::Gatherer>> gatherers;
    std::vector<Clock::time_point> starts(static_cast<std::size_t>(n));
    std::vector<Stamps> stamps(static_cast<std::size_t>(n));
    std::vector<Clock::time_point> completions(static_cast<std::size_t>(n));
    std::vector<double> latency;
    latency.reserve(static_cast<std::size_t>(n));
    int done = 0;
    std::vector<Clock::time_point> completed_at;
    Figures f;
    jgather::GatherOptions options;
    options.s5b = false;
    if (s.given_addresses) {
        jgather::LocalAddress a;
        a.ip = *jgather::IpAddress::parse(kAddress);
        a.interface = "lan0";
        a.interface_index = 2;
        options.host.addresses = std::vector<jgather::LocalAddress>{a};
    }
    jgather::StunOptions stun;
    if (s.stun_port) {
        stun.servers = {{*jgather::IpAddress::parse(kAddress), s.stun_port}};
        stun.remember_silence = std::chrono::milliseconds(0);
        stun.pacing_scope = s.scope;
    }
    if (s.deadline.count() > 0) {
        options.deadline = s.deadline;
    }
    const auto start = Clock::now();
    gatherers.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto g = std::make_unique<jgather::Gatherer>(*s.loop, options);
        if (s.stun_port) {
            g->add_source(std::make_unique<StampedSource>(
                std::make_unique<jgather::StunSource>(stun), stamps[static_cast<std::size_t>(i)],
                s.stamp_answers));
        }
        g->on_complete = [&, i](const jgather::GatherResult& r) {
            latency.push_back(since(starts[static_cast<std::size_t>(i)]));
            completions[static_cast<std::size_t>(i)] = Clock::now();
            completed_at.push_back(Clock::now());
            for (const auto& c : r.ice) {
                f.candidates += s.stun_port ? (c.ice()->type == jgather::IceType::Srflx) : 1;
            }
            for (const auto& d : r.dropped) { // a srflx equal to its base: no NAT here
                f.candidates += s.stun_port && d.reason.find("no NAT") != std::string::npos;
            }
            ++done;
        };
        starts[static_cast<std::size_t>(i)] = Clock::now();
        if (!g->gather()) {
            std::fprintf(stderr, "bench-scale: jgather gather() failed at %d\n", i);
            std::exit(1);
        }
        gatherers.push_back(std::move(g));
    }
    const auto burst_end = Clock::now();
    while (done < n) {
        g_main_context_iteration(s.context, TRUE);
    }
    f.wall_ms = since(start);
    std::vector<double> after;
    for (const auto& t : completed_at) {
        after.push_back(std::chrono::duration<double, std::milli>(t - burst_end).count());
    }
    f.after_median_ms = percentile(after, 0.5);
    f.after_p99_ms = percentile(after, 0.99);
    std::vector<double> served;
    std::vector<double> paced;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        const Clock::time_point began = s.stun_port ? stamps[i].started : burst_end;
        served.push_back(ms_between(began, completions[i]));
        paced.push_back(ms_between(starts[i], began));
        if (s.stamp_answers && stamps[i].sent != Clock::time_point{}) {
            f.turn_wait.push_back(ms_between(starts[i], stamps[i].sent));
            f.from_send.push_back(ms_between(stamps[i].sent, completions[i]));
        }
        if (s.stamp_answers && stamps[i].answered != Clock::time_point{}) {
            f.to_answer.push_back(ms_between(began, stamps[i].answered));
            f.from_answer.push_back(ms_between(stamps[i].answered, completions[i]));
        }
    }
    f.served_median_ms = percentile(served, 0.5);
    f.served_p99_ms = percentile(served, 0.99);
    f.paced_median_ms = percentile(paced, 0.5);
    f.cpu_us = (cpu_ms() - cpu0) * 1e3 / n;
    f.system_us = (system_cpu_ms() - sys0) * 1e3 / n;
    f.faults = static_cast<double>(minor_faults() - faults0) / n;
    const long rss1 = rss_kb();
    f.rss_kb = static_cast<double>(rss1 - rss0) / n;
    f.fds = static_cast<double>(jgather::test::open_fds() - fds0) / n;
    gatherers.clear();
    settle(s.context, s.keep_heap);
    f.returned = rss1 > rss0 ? static_cast<double>(rss1 - rss_kb()) / (rss1 - rss0) : 1.0;
    f.median_ms = percentile(latency, 0.5);
    f.p99_ms = percentile(latency, 0.99);
    return f;
}

Figures run_libnice(const Setup& s, int n) {
    settle(s.context, s.keep_heap);
    const long rss0 = rss_kb();
    const int fds0 = jgather::test::open_fds();
    const double cpu0 = cpu_ms();
    const double sys0 = system_cpu_ms();
    const long faults0 = minor_faults();
    struct Run {
        Clock::time_point start;
        Clock::time_point completed;
        double latency = -1;
        NiceAgent* agent = nullptr;
        guint stream = 0;
        gulong done_id = 0;
    };
    std::vector<Run> runs(static_cast<std::size_t>(n));
    int done = 0;
    const auto start = Clock::now();
    for (Run& r : runs) {
        r.start = Clock::now();
        r.agent = nice_agent_new(s.context, NICE_COMPATIBILITY_RFC5245);
        g_object_set(r.agent, "upnp", FALSE, "ice-tcp", FALSE, nullptr);
        if (s.stun_port) {
            g_object_set(r.agent, "stun-server", kAddress, "stun-server-port", s.stun_port,
                         nullptr);
        }
        struct Ctx {
            Run* run;
            int* done;
        };
        auto* ctx = new Ctx{&r, &done};
        r.done_id = g_signal_connect_data(
            r.agent, "candidate-gathering-done", G_CALLBACK(+[](NiceAgent*, guint, gpointer data) {
                auto* c = static_cast<Ctx*>(data);
                c->run->latency = since(c->run->start);
                c->run->completed = Clock::now();
                ++*c->done;
            }),
            ctx, +[](gpointer data, GClosure*) { delete static_cast<Ctx*>(data); },
            GConnectFlags{});
        r.stream = nice_agent_add_stream(r.agent, 1);
        nice_agent_attach_recv(
            r.agent, r.stream, 1, s.context,
            +[](NiceAgent*, guint, guint, guint, gchar*, gpointer) {}, nullptr);
        nice_agent_gather_candidates(r.agent, r.stream);
    }
    const auto burst_end = Clock::now();
    while (done < n) {
        g_main_context_iteration(s.context, TRUE);
    }
    Figures f;
    f.wall_ms = since(start);
    f.cpu_us = (cpu_ms() - cpu0) * 1e3 / n;
    f.system_us = (system_cpu_ms() - sys0) * 1e3 / n;
    f.faults = static_cast<double>(minor_faults() - faults0) / n;
    const long rss1 = rss_kb();
    f.rss_kb = static_cast<double>(rss1 - rss0) / n;
    f.fds = static_cast<double>(jgather::test::open_fds() - fds0) / n;
    std::vector<double> latency;
    std::vector<double> after;
    for (Run& r : runs) {
        latency.push_back(r.latency);
        // libnice may complete inside gather_candidates(), before the burst ends: 0 then.
        after.push_back(std::max(
            0.0, std::chrono::duration<double, std::milli>(r.completed - burst_end).count()));
        GSList* locals = nice_agent_get_local_candidates(r.agent, r.stream, 1);
        for (GSList* l = locals; l; l = l->next) {
            const auto* c = static_cast<NiceCandidate*>(l->data);
            f.candidates += s.stun_port ? (c->type == NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE)
                                        : (c->type == NICE_CANDIDATE_TYPE_HOST);
        }
        g_slist_free_full(locals, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
    }
    for (Run& r : runs) {
        g_signal_handler_disconnect(r.agent, r.done_id);
        nice_agent_attach_recv(r.agent, r.stream, 1, s.context, nullptr, nullptr);
        nice_agent_remove_stream(r.agent, r.stream);
        g_object_unref(r.agent);
    }
    runs.clear();
    settle(s.context, s.keep_heap);
    f.returned = rss1 > rss0 ? static_cast<double>(rss1 - rss_kb()) / (rss1 - rss0) : 1.0;
    f.median_ms = percentile(latency, 0.5);
    f.p99_ms = percentile(latency, 0.99);
    f.after_median_ms = percentile(after, 0.5);
    f.after_p99_ms = percentile(after, 0.99);
    return f;
}

void print_served(const Figures& j) {
    std::printf("%-10s %6s  %-9s jgather from its start: median/p99 %.2f/%.2f ms, after a median "
                "wait of %.2f ms\n",
                "", "", "", j.served_median_ms, j.served_p99_ms, j.paced_median_ms);
}

void print_one(const char* label, int n, const Figures& j) {
    std::printf("%-10s %6d  %-9s %9.1f %9.2f %9.2f %9.1f %9.2f %6.2f %8.0f%% %7d\n", label, n,
                "jgather", j.wall_ms, j.median_ms, j.p99_ms, j.cpu_us, j.rss_kb, j.fds,
                j.returned * 100, j.candidates);
    print_served(j);
    std::printf("%-10s %6s  %-9s of the CPU in the kernel %.1f us; %.2f page faults per "
                "gathering\n",
                "", "", "", j.system_us, j.faults);
}

void print(const char* label, int n, const Figures& j, const Figures& l) {
    const auto ratio = [](double a, double b) {
        return b > 0 ? a / b : 0.0;
    };
    std::printf("%-10s %6d  %-9s %9.1f %9.2f %9.2f %9.1f %9.2f %6.2f %8.0f%% %7d\n", label, n,
                "jgather", j.wall_ms, j.median_ms, j.p99_ms, j.cpu_us, j.rss_kb, j.fds,
                j.returned * 100, j.candidates);
    std::printf("%-10s %6s  %-9s %9.1f %9.2f %9.2f %9.1f %9.2f %6.2f %8.0f%% %7d\n", "", "",
                "libnice", l.wall_ms, l.median_ms, l.p99_ms, l.cpu_us, l.rss_kb, l.fds,
                l.returned * 100, l.candidates);
    std::printf("%-10s %6s  %-9s of the CPU in the kernel: jgather %.1f us, libnice %.1f us; "
                "page faults per gathering: jgather %.2f, libnice %.2f\n",
                "", "", "", j.system_us, l.system_us, j.faults, l.faults);
    std::printf("%-10s %6s  %-9s after the burst: median/p99 jgather %.2f/%.2f ms, libnice "
                "%.2f/%.2f ms\n",
                "", "", "", j.after_median_ms, j.after_p99_ms, l.after_median_ms, l.after_p99_ms);
    print_served(j);
    std::printf("%-10s %6s  %-9s %9.3f %9.3f %9.3f %9.3f %9.3f %6.2f\n", "", "", "ratio",
                ratio(j.wall_ms, l.wall_ms), ratio(j.median_ms, l.median_ms),
                ratio(j.p99_ms, l.p99_ms), ratio(j.cpu_us, l.cpu_us), ratio(j.rss_kb, l.rss_kb),
                ratio(j.fds, l.fds));
}

// Wall time of one minor page fault: fresh anonymous pages, each touched once.
double page_fault_us() {
    constexpr long kPages = 4096;
    const long page = sysconf(_SC_PAGESIZE);
    void* memory =
        ::mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        return 0;
    }
    auto* bytes = static_cast<volatile char*>(memory);
    const auto start = Clock::now();
    for (long i = 0; i < kPages; ++i) {
        bytes[i * page] = 1;
    }
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    ::munmap(memory, kPages * page);
    return us / kPages;
}

// CPU of one wake-up of an idle GLib loop by a timer (a poll() that sleeps, then returns):
// what a loop pays per 5 ms turn when nothing else keeps it busy, on this machine.
double wakeup_cpu_us(GMainContext* context, int wakeups) {
    settle(context);
    const double cpu0 = cpu_ms();
    for (int i = 0; i < wakeups; ++i) {
        bool fired = false;
        GSource* timer = g_timeout_source_new(5);
        g_source_set_callback(
            timer,
            +[](gpointer data) -> gboolean {
                *static_cast<bool*>(data) = true;
                return G_SOURCE_REMOVE;
            },
            &fired, nullptr);
        g_source_attach(timer, context);
        while (!fired) {
            g_main_context_iteration(context, TRUE);
        }
        g_source_unref(timer);
    }
    return (cpu_ms() - cpu0) * 1e3 / wakeups;
}

double dead_server_second_ms(const Setup& s, std::uint16_t dead, bool libnice) {
    if (libnice) {
        (void)bench::run_libnice(s.context, kAddress, dead);
        return bench::run_libnice(s.context, kAddress, dead).done_ms;
    }
    jgather::StunOptions stun; // the defaults: health memory on
    stun.servers = {{*jgather::IpAddress::parse(kAddress), dead}};
    double second = 0;
    for (int round = 0; round < 2; ++round) {
        jgather::GatherOptions options;
        options.s5b = false;
        jgather::Gatherer g(*s.loop, options);
        g.add_source(std::make_unique<jgather::StunSource>(stun));
        bool done = false;
        g.on_complete = [&](const jgather::GatherResult&) {
            done = true;
        };
        const auto start = Clock::now();
        if (!g.gather()) {
            std::exit(1);
        }
        while (!done) {
            g_main_context_iteration(s.context, TRUE);
        }
        second = since(start);
    }
    return second;
}

// CPU per gathering with a warm heap: a burst right after an unmeasured one of the same size,
// with the memory that one freed kept in the process (no malloc_trim(), and glibc's automatic
// trimming of the heap top off: M_TRIM_THRESHOLD, which a long-running server may raise the
// same way). The table's runs start from a cold heap and pay a page fault per fresh 4 KiB;
// this separates the libraries' own work from that price, which is high on a virtual machine.
// Medians of 3 rounds, jgather and libnice alternately.
struct WarmHeap {
    double jgather_us, jgather_faults, libnice_us, libnice_faults;
};

WarmHeap warm_heap_cpu(Setup setup, int n) {
    setup.keep_heap = true;
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    std::vector<double> jg, jg_faults, ln, ln_faults;
    for (int round = 0; round < 3; ++round) {
        (void)run_jgather(setup, n);
        const Figures j = run_jgather(setup, n);
        jg.push_back(j.cpu_us);
        jg_faults.push_back(j.faults);
        (void)run_libnice(setup, n);
        const Figures l = run_libnice(setup, n);
        ln.push_back(l.cpu_us);
        ln_faults.push_back(l.faults);
    }
    mallopt(M_TRIM_THRESHOLD, 128 * 1024); // glibc's default
    settle(setup.context);
    return {bench::median(jg), bench::median(jg_faults), bench::median(ln),
            bench::median(ln_faults)};
}

} // namespace

int main(int argc, char** argv) {
    std::vector<int> sizes;
    bool profile = false; // --profile: jgather only, host + STUN, for perf/strace/callgrind
    bool paced = false;   // --paced: with --profile, paced with the loop (RFC 8445 §14.2)
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--profile") {
            profile = true;
        } else if (std::string(argv[i]) == "--paced") {
            paced = true;
        } else {
            sizes.push_back(std::atoi(argv[i]));
        }
    }
    if (sizes.empty()) {
        sizes = {100, 1000, 10000};
    }
    rlimit files{};
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    try {
        jgather::test::Netns ns("scale");
        ns.ip({"link", "set", "lo", "up"});
        // A veth pair (no dummy module in every kernel); "lan0": not named like plumbing.
        ns.ip({"link", "add", "lan0", "type", "veth", "peer", "name", "lanp0"});
        ns.ip({"link", "set", "lanp0", "up"});
        ns.ip({"link", "set", "lan0", "up"});
        ns.ip({"addr", "add", std::string(kAddress) + "/24", "dev", "lan0"});
        jgather::test::run_command({"ip", "netns", "exec", ns.name(), "sysctl", "-qw",
                                    "net.ipv6.conf.all.disable_ipv6=1"});
        jgather::test::EnterNetns inside(ns);
        const std::uint16_t stun_port = jgather::test::free_udp_port(kAddress);
        jgather::test::Coturn coturn(kAddress, stun_port, ns.name());
        const std::uint16_t dead = jgather::test::free_udp_port(kAddress);

        GMainContext* context = g_main_context_new();
        auto loop = jgather::glib::make_loop(context);
        Setup setup{context, loop.get(), 0};
        if (profile) {
            setup.stun_port = stun_port;
            for (int n : sizes) {
                if (paced) {
                    setup.scope = jgather::StunPacingScope::Loop;
                    setup.deadline = std::chrono::milliseconds(n * 5 + 3000);
                }
                const Figures j = run_jgather(setup, n);
                print_one("host+stun", n, j);
            }
            loop.reset();
            g_main_context_unref(context);
            return 0;
        }
        // Warm up both (coturn's first answers, libnice's and GLib's one-time allocations).
        (void)bench::run_libnice(context, kAddress, stun_port);
        setup.stun_port = stun_port;
        (void)run_jgather(setup, 10);
        (void)run_libnice(setup, 10);

        std::printf(
            "N concurrent gatherings on one GMainContext, one address (%s), coturn on it;\n"
            "fd limit %lu. Latency: gather() to completion. Per gathering: CPU, RSS and\n"
            "fds while all are alive; returned: share of the RSS growth given back.\n"
            "STUN paced per gathering here (StunPacingScope::Gathering, as libnice paces\n"
            "each agent); the RFC 8445 section 14.2 default is measured after the table.\n\n",
            kAddress, static_cast<unsigned long>(files.rlim_cur));
        std::printf("%-10s %6s  %-9s %9s %9s %9s %9s %9s %6s %9s %7s\n", "mode", "N", "", "wall ms",
                    "median", "p99 ms", "CPU us", "RSS KB", "fds", "returned", "cands");
        for (const bool with_stun : {false, true}) {
            setup.stun_port = with_stun ? stun_port : 0;
            for (int n : sizes) {
                if (static_cast<rlim_t>(n) + 64 > files.rlim_cur) {
                    std::printf("%-10s %6d  skipped: the fd limit is %lu\n",
                                with_stun ? "host+stun" : "host", n,
                                static_cast<unsigned long>(files.rlim_cur));
                    continue;
                }
                if (static_cast<rlim_t>(n) * 2 + 64 > files.rlim_cur) {
                    const Figures j = run_jgather(setup, n);
                    print_one(with_stun ? "host+stun" : "host", n, j);
                    std::printf("%-10s %6s  %-9s (libnice needs 2 fds per gathering: over the "
                                "limit of %lu)\n",
                                "", "", "libnice", static_cast<unsigned long>(files.rlim_cur));
                    continue;
                }
                const Figures j = run_jgather(setup, n);
                const Figures l = run_libnice(setup, n);
                print(with_stun ? "host+stun" : "host", n, j, l);
            }
        }

        setup.stun_port = stun_port;
        std::vector<double> lone, given, enumerated;
        for (int i = 0; i < 21; ++i) {
            lone.push_back(run_jgather(setup, 1).median_ms);
        }
        const int n = sizes.size() > 1 ? sizes[1] : sizes[0];
        for (int i = 0; i < 3; ++i) {
            setup.given_addresses = false;
            enumerated.push_back(run_jgather(setup, n).cpu_us);
            setup.given_addresses = true;
            given.push_back(run_jgather(setup, n).cpu_us);
        }
        setup.given_addresses = false;
        std::printf("\nlone gathering, host+stun: median %.3f ms (21 runs)\n", bench::median(lone));
        // Where one gathering's time goes in a burst of n: its wait in the start queue, the
        // server's answer, and jgather's own share after the answer; and the server alone.
        {
            setup.stamp_answers = true;
            std::vector<double> wait, served, to_answer, from_answer, lone_to, lone_from;
            for (int i = 0; i < 3; ++i) {
                const Figures f = run_jgather(setup, n);
                wait.push_back(f.paced_median_ms);
                served.push_back(f.served_median_ms);
                to_answer.push_back(percentile(f.to_answer, 0.5));
                from_answer.push_back(percentile(f.from_answer, 0.5));
            }
            for (int i = 0; i < 21; ++i) {
                const Figures f = run_jgather(setup, 1);
                lone_to.push_back(percentile(f.to_answer, 0.5));
                lone_from.push_back(percentile(f.from_answer, 0.5));
            }
            setup.stamp_answers = false;
            std::vector<double> alone_median, alone_p99, alone_cpu, alone_system, alone_faults;
            for (int i = 0; i < 3; ++i) {
                settle(context);
                const PlainSockets alone = plain_sockets(stun_port, n);
                alone_median.push_back(percentile(alone.answered, 0.5));
                alone_p99.push_back(percentile(alone.answered, 0.99));
                alone_cpu.push_back(alone.cpu_us);
                alone_system.push_back(alone.system_us);
                alone_faults.push_back(alone.faults);
            }
            std::printf("N=%d host+stun, one gathering's time (medians of 3 runs): %.2f ms waiting "
                        "to start, then %.2f ms to its completion = %.2f ms for the server's "
                        "answer + %.2f ms for jgather after it (lone: %.3f + %.3f ms)\n",
                        n, bench::median(wait), bench::median(served), bench::median(to_answer),
                        bench::median(from_answer), bench::median(lone_to),
                        bench::median(lone_from));
            std::printf("the STUN server alone, %d Binding requests sent in one burst from %d "
                        "plain sockets: answered in median %.2f ms, p99 %.2f ms\n",
                        n, n, bench::median(alone_median), bench::median(alone_p99));
            std::printf("those plain sockets' system calls alone (socket, bind, getsockname, "
                        "epoll_ctl, sendto, recv, epoll_ctl, close), no library: CPU %.1f us per "
                        "gathering, %.1f us of it in the kernel, %.2f page faults (medians of "
                        "3); one page fault alone: %.1f us\n",
                        bench::median(alone_cpu), bench::median(alone_system),
                        bench::median(alone_faults), page_fault_us());
        }
        // RFC 8445 §14.2, the default: all gatherings' transactions together one every 5 ms.
        {
            setup.scope = jgather::StunPacingScope::Loop;
            setup.deadline = std::chrono::milliseconds(n * 5 + 3000);
            const Figures cpu = run_jgather(setup, n);
            setup.stamp_answers = true;
            const Figures paced = run_jgather(setup, n);
            setup.stamp_answers = false;
            setup.scope = jgather::StunPacingScope::Gathering;
            setup.deadline = std::chrono::milliseconds(0);
            std::printf("N=%d host+stun paced with the loop (RFC 8445 §14.2, the default): wall "
                        "%.1f ms, CPU %.1f us per gathering, %d mappings; latency median %.2f "
                        "ms, of which waiting for its turn %.2f ms; from its send to its "
                        "completion median %.3f ms, p99 %.3f ms (a lone gathering: %.3f ms)\n",
                        n, cpu.wall_ms, cpu.cpu_us, cpu.candidates, paced.median_ms,
                        percentile(paced.turn_wait, 0.5), percentile(paced.from_send, 0.5),
                        percentile(paced.from_send, 0.99), bench::median(lone));
            std::printf("an idle GLib loop woken by a 5 ms timer, nothing else: CPU %.1f us per "
                        "wake-up (the paced gatherings wake the loop for their turn and again "
                        "for their answer)\n",
                        wakeup_cpu_us(context, 400));
        }
        {
            const WarmHeap warm = warm_heap_cpu(setup, n);
            std::printf("N=%d host+stun with a warm heap (an earlier burst's memory kept: no "
                        "malloc_trim, M_TRIM_THRESHOLD raised): CPU per gathering jgather %.1f "
                        "us (%.2f page faults), libnice %.1f us (%.2f page faults), ratio %.3f "
                        "(medians of 3)\n",
                        n, warm.jgather_us, warm.jgather_faults, warm.libnice_us,
                        warm.libnice_faults, warm.jgather_us / warm.libnice_us);
        }
        std::printf("N=%d host+stun CPU per gathering: enumerating %.1f us, given addresses "
                    "%.1f us (ratio %.3f)\n",
                    n, bench::median(enumerated), bench::median(given),
                    bench::median(enumerated) / bench::median(given));
        // An address change: `ip addr add` in the namespace, then the NetworkWatch callback.
        std::vector<double> change_ms;
        for (int i = 0; i < 9; ++i) {
            Clock::time_point seen{};
            auto watch = jgather::NetworkWatch::start(
                *loop, [&](const jgather::NetworkChange&) { seen = Clock::now(); });
            if (!watch) {
                std::fprintf(stderr, "bench-scale: %s\n", watch.error().message.c_str());
                return 1;
            }
            const std::string address = "198.51.100." + std::to_string(10 + i) + "/24";
            const auto before = Clock::now();
            ns.ip({"addr", "add", address, "dev", "lan0"});
            while (seen == Clock::time_point{}) {
                g_main_context_iteration(context, TRUE);
            }
            change_ms.push_back(std::chrono::duration<double, std::milli>(seen - before).count());
            watch->reset();
            ns.ip({"addr", "del", address, "dev", "lan0"});
            settle(context);
        }
        std::printf("address change reported (from `ip addr add` to the NetworkWatch callback, "
                    "ip's own run included): median %.2f ms of 9\n",
                    bench::median(change_ms));
        const double jg_dead = dead_server_second_ms(setup, dead, false);
        const double ni_dead = dead_server_second_ms(setup, dead, true);
        std::printf("second gathering against a dead STUN server: jgather %.2f ms, libnice "
                    "%.1f ms (ratio %.4f)\n",
                    jg_dead, ni_dead, jg_dead / ni_dead);
        loop.reset();
        g_main_context_unref(context);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench-scale: %s\n", e.what());
        return 1;
    }
    return 0;
}
