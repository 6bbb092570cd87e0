// Time to an open SOCKS5 stream with k black-holed candidates ahead of the working one
// (k = 0, 2, 4): jgather's s5b::Connector (staggered parallel attempts, RFC 8305 §5) against
// a blocking sequential attempt like gloox's target side (SOCKS5Bytestream::connect tries one
// streamhost after the other with a blocking connect(); its timeout is not applied on Linux, so
// a dead address costs TCP's SYN retries: net.ipv4.tcp_syn_retries = 6 is ≈ 127 s). Same
// candidates, same run, loopback only, no root: a black hole is a loopback listener whose accept
// queue is full (the kernel drops further SYNs, as a firewall's DROP would).
//
//   build/benchmarks/bench-s5b [ROUNDS] [--baseline-max-k K]
//
// The baseline runs once per k up to K (default 4: ≈ 13 minutes at the kernel's default SYN
// retries); jgather runs ROUNDS times (default 5) per k and prints the median.
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/jgather.hpp>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

const std::string kDst = jgather::xep0260::dstaddr("bench", "a@example.org/x", "b@example.org/y");

int loopback_listener(int backlog) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(fd, backlog) != 0) {
        std::perror("listener");
        std::exit(1);
    }
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    return to;
}

// A loopback port that drops SYNs: backlog 0 and one connection nobody accepts.
struct BlackHole {
    int listener = loopback_listener(0);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BlackHole() {
        const sockaddr_in to = loopback(port_of(listener));
        if (connect(filler, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            std::perror("black hole");
            std::exit(1);
        }
    }
    ~BlackHole() {
        close(filler);
        close(listener);
    }
    BlackHole(const BlackHole&) = delete;
    BlackHole& operator=(const BlackHole&) = delete;
};

// The working candidate: jgather's Acceptor on a thread and context of its own, so that the
// blocking baseline cannot stall it.
class Server {
public:
    Server() {
        const int fd = loopback_listener(64);
        port_ = port_of(fd);
        thread_ = std::thread([this, fd] {
            GMainContext* context = g_main_context_new();
            {
                auto loop = jgather::glib::make_loop(context);
                jgather::s5b::Acceptor acceptor(*loop, jgather::s5b::Socket(fd));
                if (!acceptor.start() || !acceptor.expect(kDst)) {
                    std::fprintf(stderr, "acceptor failed\n");
                    std::exit(1);
                }
                acceptor.on_stream = [](jgather::s5b::AcceptedStream) {
                }; // closed at once
                while (!stop_) {
                    g_main_context_iteration(context, TRUE);
                }
            }
            g_main_context_unref(context);
        });
    }
    ~Server() {
        stop_ = true;
        // Wake the server's poll(): a connection it will accept and close.
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in to = loopback(port_);
        (void)connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        close(fd);
        thread_.join();
    }
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    std::uint16_t port() const { return port_; }

private:
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

jgather::Candidate candidate(std::uint16_t port, std::uint32_t priority) {
    jgather::Candidate c;
    jgather::S5bFields fields;
    fields.cid = "c" + std::to_string(priority);
    fields.jid = "a@example.org/x";
    c.fields = fields;
    c.host = "127.0.0.1";
    c.port = port;
    c.priority = priority;
    return c;
}

// k dead candidates first (highest priorities), the working one last.
std::vector<jgather::Candidate> candidates(const std::vector<BlackHole>& holes,
                                           std::uint16_t working) {
    std::vector<jgather::Candidate> out;
    std::uint32_t priority = 1000;
    for (const BlackHole& hole : holes) {
        out.push_back(candidate(port_of(hole.listener), priority--));
    }
    out.push_back(candidate(working, priority));
    return out;
}

double run_jgather(const std::vector<jgather::Candidate>& list) {
    GMainContext* context = g_main_context_new();
    double elapsed = -1;
    {
        auto loop = jgather::glib::make_loop(context);
        jgather::s5b::ConnectOptions options;
        options.dstaddr = kDst;
        jgather::s5b::Connector connector(*loop, list, options);
        bool done = false;
        const auto start = Clock::now();
        connector.on_done = [&](jgather::s5b::ConnectReport report) {
            elapsed = report.winner ? ms_since(start) : -1;
            done = true;
        };
        if (!connector.start()) {
            std::exit(1);
        }
        while (!done) {
            g_main_context_iteration(context, TRUE);
        }
    }
    g_main_context_unref(context);
    return elapsed;
}

bool exact(int fd, void* data, std::size_t size, bool write) {
    auto* bytes = static_cast<char*>(data);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = write ? send(fd, bytes + done, size - done, MSG_NOSIGNAL)
                                : recv(fd, bytes + done, size - done, 0);
        if (n <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// gloox's way: one streamhost after the other, blocking connect without a timeout, then the
// SOCKS5 handshake, blocking.
double run_sequential(const std::vector<jgather::Candidate>& list) {
    const auto start = Clock::now();
    for (const jgather::Candidate& c : list) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in to = loopback(c.port);
        if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            close(fd);
            continue;
        }
        char greeting[] = {5, 1, 0};
        char selection[2];
        std::string request = std::string("\x05\x01\x00\x03", 4) + static_cast<char>(kDst.size()) +
                              kDst + std::string(2, '\0');
        std::string reply(request.size(), '\0');
        const bool ok = exact(fd, greeting, sizeof greeting, true) &&
                        exact(fd, selection, sizeof selection, false) && selection[1] == 0 &&
                        exact(fd, request.data(), request.size(), true) &&
                        exact(fd, reply.data(), reply.size(), false) && reply[1] == 0;
        close(fd);
        if (ok) {
            return ms_since(start);
        }
    }
    return -1;
}

} // namespace

int main(int argc, char** argv) {
    int rounds = 5;
    int baseline_max_k = 4;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--baseline-max-k") == 0 && i + 1 < argc) {
            baseline_max_k = std::atoi(argv[++i]);
        } else {
            rounds = std::max(1, std::atoi(argv[i]));
        }
    }
    Server server;
    std::printf("time to an open SOCKS5 stream, k black-holed candidates ahead (loopback; "
                "jgather stagger 250 ms, median of %d)\n",
                rounds);
    std::printf("%3s %14s %22s %10s\n", "k", "jgather ms", "blocking sequential ms", "ratio");
    for (const int k : {0, 2, 4}) {
        std::vector<BlackHole> holes(static_cast<std::size_t>(k));
        const auto list = candidates(holes, server.port());
        std::vector<double> samples;
        for (int r = 0; r < rounds; ++r) {
            samples.push_back(run_jgather(list));
        }
        std::sort(samples.begin(), samples.end());
        const double ours = samples[samples.size() / 2];
        if (k <= baseline_max_k) {
            const double theirs = run_sequential(list);
            std::printf("%3d %14.1f %22.1f %10.4f\n", k, ours, theirs, ours / theirs);
        } else {
            std::printf("%3d %14.1f %22s %10s\n", k, ours, "(not run)", "-");
        }
        std::fflush(stdout);
    }
    return 0;
}
