// jgather-lab: brings up the NAT lab of scripts/lab.sh with prosody, ejabberd (with its STUN
// listener) and coturn (STUN and TURN) on its public side, runs jgather-demo (host, Server IP
// Check, STUN) from a client behind each NAT and from a public client, then through a NiceAgent
// with the servers' STUN/TURN services (XEP-0215) behind the port-randomising NAT, and removes
// everything again.
// `bash scripts/demo.sh` runs it.
//
//   jgather-lab PATH-TO-jgather-demo [extra demo flags...]
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "support/netns.hpp"
#include "support/xmpp_servers.hpp"

namespace {
volatile std::sig_atomic_t interrupted = 0;
} // namespace

int main(int argc, char** argv) {
    using jgather::test::XmppServer;
    if (argc < 2) {
        std::fprintf(stderr, "usage: jgather-lab PATH-TO-jgather-demo [demo flags...]\n");
        return 2;
    }
    const std::string demo = argv[1];
    const std::vector<std::string> extra(argv + 2, argv + argc);
    // Ctrl-C or a closed pipe ends the run through the destructors below, which remove the
    // namespaces and stop the servers.
    std::signal(SIGINT, [](int) { interrupted = 1; });
    std::signal(SIGTERM, [](int) { interrupted = 1; });
    std::signal(SIGPIPE, SIG_IGN);
    try {
        std::fprintf(stderr,
                     "lab: building namespaces and starting prosody, ejabberd and coturn...\n");
        jgather::test::NatLab lab;
        jgather::test::XmppServerOptions options;
        options.netns = lab.ns("srv");
        options.ip = "203.0.113.1";
        options.port = 5222;
        // XEP-0215: both announce coturn (STUN, TURN over UDP and TCP) with TURN-REST
        // credentials coturn checks against the same secret.
        options.extdisco_secret = "jgather-lab-turn-secret";
        XmppServer prosody(XmppServer::Kind::Prosody, options);
        options.port = 5223;
        options.stun_port = 3479;
        XmppServer ejabberd(XmppServer::Kind::Ejabberd, options);
        jgather::test::Coturn coturn("203.0.113.1", 3478, lab.ns("srv"), options.extdisco_secret);
        jgather::test::Coturn coturn6("2001:db8:0:1::1", 3478, lab.ns("srv"));

        struct Client {
            const char* host;
            const char* what;
        };
        for (const XmppServer* server : {&prosody, &ejabberd}) {
            for (const Client& c :
                 {Client{"c1", "behind NAT 1 (LAN 192.0.2.10 + 2001:db8:0:10::10, WAN "
                               "203.0.113.2 + 2001:db8:0:1::2)"},
                  Client{"c2", "behind NAT 2 (LAN 198.51.100.10, WAN 203.0.113.3; IPv6 "
                               "2001:db8:0:20::10 routed, no NAT66)"},
                  Client{"pub", "on a public address (203.0.113.50 + 2001:db8:0:1::50)"}}) {
                if (interrupted) {
                    break;
                }
                // prosody has no STUN: pair it with coturn; ejabberd with its own (IPv4 only).
                // IPv6 bases ask coturn's IPv6 listener in both.
                const bool on_prosody = server == &prosody;
                const std::string stun = on_prosody ? "203.0.113.1:3478" : "203.0.113.1:3479";
                const std::string stun6 = "[2001:db8:0:1::1]:3478";
                std::printf("\n=== %s + STUN %s (%s) and %s (coturn), client %s\n",
                            jgather::test::to_string(on_prosody ? XmppServer::Kind::Prosody
                                                                : XmppServer::Kind::Ejabberd)
                                .c_str(),
                            stun.c_str(), on_prosody ? "coturn" : "ejabberd_stun", stun6.c_str(),
                            c.what);
                std::fflush(stdout);
                std::vector<std::string> args = {"ip",
                                                 "netns",
                                                 "exec",
                                                 lab.ns(c.host),
                                                 demo,
                                                 "--jid",
                                                 "romeo@example.org",
                                                 "--password",
                                                 "secret123",
                                                 "--xmpp-host",
                                                 "203.0.113.1",
                                                 "--xmpp-port",
                                                 std::to_string(server->port()),
                                                 "--xmpp-ca",
                                                 server->ca_file(),
                                                 "--stun",
                                                 stun,
                                                 "--stun",
                                                 stun6,
                                                 "--explain"};
                args.insert(args.end(), extra.begin(), extra.end());
                jgather::test::run_command(args);
            }
        }
        // Behind the NAT that maps every destination to a new port, only a relay reaches the
        // outside: gathered through a NiceAgent with the server's services.
        for (const XmppServer* server : {&prosody, &ejabberd}) {
            if (interrupted) {
                break;
            }
            std::printf("\n=== %s, --nice --extdisco (its STUN and TURN services), client behind "
                        "NAT 3 (LAN 198.51.100.130, WAN 203.0.113.4, a new port per "
                        "destination)\n",
                        jgather::test::to_string(server == &prosody ? XmppServer::Kind::Prosody
                                                                    : XmppServer::Kind::Ejabberd)
                            .c_str());
            std::fflush(stdout);
            std::vector<std::string> args = {"ip",          "netns",
                                             "exec",        lab.ns("c3"),
                                             demo,          "--nice",
                                             "--extdisco",  "--ipv4",
                                             "--jid",       "romeo@example.org",
                                             "--password",  "secret123",
                                             "--xmpp-host", "203.0.113.1",
                                             "--xmpp-port", std::to_string(server->port()),
                                             "--xmpp-ca",   server->ca_file()};
            args.insert(args.end(), extra.begin(), extra.end());
            jgather::test::run_command(args);
        }
        std::fprintf(stderr, "\nlab: stopping the servers and removing the namespaces\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "jgather-lab: %s\n", e.what());
        return 1;
    }
    return 0;
}
