// Throughput of a file transfer across the NAT lab (scripts/lab.sh): jgather-send and
// jgather-receive against plain TCP on the same path, alternating in the same run.
//
//   direct           pub (public address) -> c2 (behind NAT 2): the receiver connects to the
//                    sender's direct candidate. Plain: a blocking sender and receiver, c2
//                    connecting to pub.
//   proxy (SERVER)   c1 (behind NAT 1) -> the server's proxy65 at 203.0.113.1 -> c2, with
//                    --no-direct. Plain: two blocking SOCKS5 clients through the same proxy,
//                    activated over XMPP, then a blocking sender and receiver.
//
// Each transfer carries MIB MiB from a file into a file; the time runs from the open stream to
// the receiver's end of stream (jgather-receive's transfer_ms; the plain receiver's own clock).
// jgather-receive hashes what arrives (SHA-256, GLib's) and checks it at the end, so the plain
// receiver runs twice: writing only, and writing and hashing the same way. Prints medians in
// MiB/s and jgather's ratio to both.
//
//   JGATHER_SOURCE_DIR=$PWD build/benchmarks/bench-transfer [ROUNDS] [MIB]   (root; prosody,
//   ejabberd)
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <optional>
#include <random>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/gloox.hpp>
#include <jgather/sources/proxy65.hpp>
#include <jgather/xep0260.hpp>

#include "libnice_baseline.hpp"
#include "support/lab_process.hpp"
#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"
#include "xmpp_account.hpp"

namespace {

using bench::Clock;
using bench::median;
using bench::since;
using jgather::test::XmppServer;

constexpr std::size_t kChunk = 256 * 1024; // as jgather-send and jgather-receive
constexpr const char* kSender = "romeo@example.org/laptop";
constexpr const char* kReceiver = "juliet@example.org/phone";

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "bench-transfer: %s\n", why.c_str());
    std::exit(1);
}

sockaddr_in ipv4(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

int connect_to(const char* ip, std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in a = ipv4(ip, port);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        die(std::string("connect to ") + ip + ": " + std::strerror(errno));
    }
    return fd;
}

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// The plain sender: the file into the socket, then the end of stream.
void send_file(int fd, const std::string& path) {
    const int file = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<char> buffer(kChunk);
    ssize_t n = 0;
    while ((n = read(file, buffer.data(), buffer.size())) > 0) {
        if (!send_all(fd, buffer.data(), static_cast<std::size_t>(n))) {
            break;
        }
    }
    close(file);
    shutdown(fd, SHUT_WR);
}

// The plain receiver: the socket into the file until the end of stream, with @p verify the
// SHA-256 of what arrives computed as it arrives (GLib's, as jgather-receive does); ms from the
// first byte to the end of stream (the file is synced afterwards, outside the time, as
// jgather-receive syncs after its transfer_ms).
double receive_file(int fd, const std::string& path, bool verify) {
    const auto start = Clock::now();
    const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    GChecksum* sha = verify ? g_checksum_new(G_CHECKSUM_SHA256) : nullptr;
    std::vector<char> buffer(kChunk);
    ssize_t n = 0;
    while ((n = recv(fd, buffer.data(), buffer.size(), 0)) > 0) {
        if (write(file, buffer.data(), static_cast<std::size_t>(n)) != n) {
            die("writing the received file");
        }
        if (sha != nullptr) {
            g_checksum_update(sha, reinterpret_cast<const guchar*>(buffer.data()), n);
        }
    }
    if (sha != nullptr) {
        (void)g_checksum_get_string(sha);
        g_checksum_free(sha);
    }
    const double ms = since(start);
    fsync(file);
    close(file);
    return ms;
}

// Plain TCP from pub to c2: c2 connects, pub sends.
double plain_direct(const jgather::test::NatLab& lab, const std::string& in, const std::string& out,
                    bool verify) {
    int listener = -1;
    std::uint16_t port = 0;
    {
        jgather::test::EnterNetns pub(lab.ns("pub"));
        listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = ipv4("203.0.113.50", 0);
        socklen_t length = sizeof a;
        if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            listen(listener, 1) != 0 ||
            getsockname(listener, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
            die("plain listener in pub");
        }
        port = ntohs(a.sin_port);
    }
    double ms = -1;
    std::thread receiver([&] {
        jgather::test::EnterNetns c2(lab.ns("c2"));
        const int fd = connect_to("203.0.113.50", port);
        ms = receive_file(fd, out, verify);
        close(fd);
    });
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    send_file(fd, in);
    receiver.join();
    close(fd);
    close(listener);
    return ms;
}

// A blocking SOCKS5 CONNECT (RFC 1928) to the proxy with DST.ADDR @p dstaddr, port 0
// (XEP-0065 §5.3.2), from the calling thread's namespace.
int socks5_to_proxy(const std::string& dstaddr, std::uint16_t port) {
    const int fd = connect_to("203.0.113.1", port);
    char reply[64];
    std::string request("\x05\x01\x00", 3);
    if (!send_all(fd, request.data(), request.size()) || recv(fd, reply, 2, MSG_WAITALL) != 2 ||
        reply[1] != 0) {
        die("SOCKS5 greeting to the proxy");
    }
    request = std::string("\x05\x01\x00\x03", 4) + static_cast<char>(dstaddr.size()) + dstaddr +
              std::string(2, '\0');
    const auto expected = static_cast<ssize_t>(5 + dstaddr.size() + 2);
    if (!send_all(fd, request.data(), request.size()) ||
        recv(fd, reply, static_cast<std::size_t>(expected), MSG_WAITALL) != expected ||
        reply[1] != 0) {
        die("SOCKS5 CONNECT to the proxy");
    }
    return fd;
}

// Plain TCP from c1 to c2 through @p proxy: the target (c2) connects first, then the
// requester (c1), romeo activates, then c1 sends.
double plain_proxy(const jgather::test::NatLab& lab, jgather::xmpp::XmppConnection& romeo,
                   jgather::Proxy65Service& service, const jgather::Proxy65& proxy, int round,
                   const std::string& in, const std::string& out, bool verify) {
    const std::string sid = "bench" + std::to_string(round) + (verify ? "v" : "");
    const std::string target = "juliet@example.org/bench";
    const std::string dstaddr = jgather::xep0260::dstaddr(sid, romeo.client().jid().full(), target);
    int target_fd = -1;
    int requester_fd = -1;
    std::thread([&] {
        jgather::test::EnterNetns c2(lab.ns("c2"));
        target_fd = socks5_to_proxy(dstaddr, proxy.port);
    }).join();
    std::thread([&] {
        jgather::test::EnterNetns c1(lab.ns("c1"));
        requester_fd = socks5_to_proxy(dstaddr, proxy.port);
    }).join();
    std::optional<bool> activated;
    service.activate(proxy.jid, sid, target,
                     [&](const jgather::Result<void>& r) { activated = static_cast<bool>(r); });
    while (!activated) {
        g_main_context_iteration(romeo.context(), TRUE);
    }
    if (!*activated) {
        die("the proxy refused the plain activation");
    }
    double ms = -1;
    std::thread receiver([&] { ms = receive_file(target_fd, out, verify); });
    send_file(requester_fd, in);
    receiver.join();
    close(target_fd);
    close(requester_fd);
    return ms;
}

// One jgather-send / jgather-receive pair; the receiver's transfer_ms, or -1 when it failed.
double jgather_transfer(const jgather::test::NatLab& lab, const XmppServer& server,
                        const std::string& dir, const char* sender_host,
                        std::vector<std::string> sender_flags, const std::string& in,
                        const std::string& out) {
    const auto xmpp = [&](const char* jid) {
        return std::vector<std::string>{"--jid",       jid,
                                        "--password",  "secret123",
                                        "--xmpp-host", server.options().ip,
                                        "--xmpp-port", std::to_string(server.port()),
                                        "--xmpp-ca",   server.ca_file(),
                                        "--format",    "json",
                                        "--ipv4"};
    };
    char self[4096] = {};
    const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    const std::string here = length > 0 ? std::string(self, static_cast<std::size_t>(length))
                                        : std::string("./bench-transfer");
    const std::string examples = here.substr(0, here.rfind('/')) + "/../examples/";
    auto r = xmpp(kReceiver);
    r.insert(r.end(), {"--out", out});
    jgather::test::LabProcess receiver(
        lab.ns("c2"), jgather::test::program_path("JGATHER_RECEIVE", examples + "jgather-receive"),
        r, dir, "receiver");
    if (!receiver.wait_for("waiting for a file offer", std::chrono::seconds(20))) {
        die("jgather-receive never logged in:\n" + receiver.err());
    }
    auto s = xmpp(kSender);
    s.insert(s.end(), {"--to", kReceiver, "--file", in});
    s.insert(s.end(), sender_flags.begin(), sender_flags.end());
    jgather::test::LabProcess sender(
        lab.ns(sender_host), jgather::test::program_path("JGATHER_SEND", examples + "jgather-send"),
        s, dir, "sender");
    const int sent = sender.wait();
    const int received = receiver.wait();
    const std::string report = receiver.out();
    if (sent != 0 || received != 0 || jgather::test::json_field(report, "state") != "done") {
        std::fprintf(stderr, "bench-transfer: a jgather transfer failed:\n%s%s%s%s",
                     sender.err().c_str(), sender.out().c_str(), receiver.err().c_str(),
                     report.c_str());
        return -1;
    }
    return std::stod(jgather::test::json_field(report, "transfer_ms"));
}

} // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
    const int mib = argc > 2 ? std::atoi(argv[2]) : 64;
    if (rounds < 1 || mib < 1) {
        die("usage: bench-transfer [ROUNDS] [MIB]");
    }
    try {
        const jgather::test::LabWithProxies servers;
        const jgather::test::NatLab& lab = servers.lab();
        const XmppServer& prosody = servers.server(XmppServer::Kind::Prosody);
        const XmppServer& ejabberd = servers.server(XmppServer::Kind::Ejabberd);
        jgather::test::TempDir dir;
        const std::string in = dir.path() + "/in.bin";
        const std::string out = dir.path() + "/out.bin";
        {
            std::mt19937 random(1);
            std::string data(static_cast<std::size_t>(mib) << 20, '\0');
            for (char& c : data) {
                c = static_cast<char>(random());
            }
            std::ofstream(in, std::ios::binary) << data;
        }

        struct Path {
            const char* label;
            const XmppServer* server;
            std::vector<double> plain;
            std::vector<double> verified;
            std::vector<double> jgather;
            std::unique_ptr<jgather::xmpp::XmppConnection> romeo;
            std::unique_ptr<jgather::Proxy65Service> service;
            std::optional<jgather::Proxy65> proxy;
        };
        Path paths[] = {
            {"direct, pub -> c2", &prosody, {}, {}, {}, nullptr, nullptr, std::nullopt},
            {"proxy65 (prosody), c1 -> c2", &prosody, {}, {}, {}, nullptr, nullptr, std::nullopt},
            {"proxy65 (ejabberd), c1 -> c2",
             &ejabberd,
             {},
             {},
             {},
             nullptr,
             nullptr,
             std::nullopt}};
        GMainContext* context = g_main_context_default();
        for (Path& p : paths) {
            if (&p == &paths[0]) {
                continue;
            }
            jgather::test::EnterNetns c1(lab.ns("c1"));
            p.romeo = bench::connect(context, *p.server, "bench-transfer");
            p.service = std::make_unique<jgather::Proxy65Service>(*p.romeo);
            std::optional<jgather::Proxy65Discovery> found;
            p.service->request([&](const jgather::Proxy65Discovery& d) { found = d; });
            while (!found) {
                g_main_context_iteration(context, TRUE);
            }
            if (found->proxies.empty()) {
                die(std::string("no proxy on ") + p.label + ": " + found->error);
            }
            p.proxy = found->proxies[0];
        }
        for (int round = 0; round < rounds; ++round) {
            for (Path& p : paths) {
                const bool direct = &p == &paths[0];
                for (const bool verify : {false, true}) {
                    (verify ? p.verified : p.plain)
                        .push_back(direct ? plain_direct(lab, in, out, verify)
                                          : plain_proxy(lab, *p.romeo, *p.service, *p.proxy, round,
                                                        in, out, verify));
                }
                const double ms = jgather_transfer(
                    lab, *p.server, dir.path(), direct ? "pub" : "c1",
                    direct ? std::vector<std::string>{} : std::vector<std::string>{"--no-direct"},
                    in, out);
                if (ms > 0) {
                    p.jgather.push_back(ms);
                }
            }
        }
        std::printf("file transfer throughput across the NAT lab, %d MiB, %d alternating rounds, "
                    "medians (MiB/s; first byte or open stream to the receiver's end of stream)\n"
                    "plain: blocking sender and receiver; + sha-256: the receiver also hashes "
                    "what arrives, as jgather-receive does\n",
                    mib, rounds);
        std::printf("%-30s %10s %14s %10s %16s %10s %7s\n", "", "plain TCP", "plain+sha-256",
                    "jgather", "/ plain+sha-256", "/ plain", "failed");
        for (const Path& p : paths) {
            const auto rate = [&](const std::vector<double>& ms) {
                return ms.empty() ? 0.0 : mib / (median(ms) / 1000.0);
            };
            const double plain = rate(p.plain);
            const double verified = rate(p.verified);
            const double ours = rate(p.jgather);
            std::printf("%-30s %10.1f %14.1f %10.1f %16.2f %10.2f %7zu\n", p.label, plain, verified,
                        ours, ours / verified, ours / plain,
                        static_cast<std::size_t>(rounds) - p.jgather.size());
        }
    } catch (const std::exception& e) {
        die(e.what());
    }
    return 0;
}
