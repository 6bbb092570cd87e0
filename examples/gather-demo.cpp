// jgather-demo: gathers this machine's candidates and prints them as text, JSON or XEP XML.
// Uses nothing beyond jgather's public API (and GLib for the main loop).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <glib-unix.h>
#include <glib.h>

#include <jgather/glib.hpp>
#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/nice.hpp>
#include <jgather/sources/extdisco.hpp>
#include <jgather/sources/sic.hpp>

#include "cli.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: jgather-demo [options]

Gathers XMPP Jingle transport candidates for this machine. Candidates are printed to stderr as
they arrive (ms since start); the final result goes to stdout.

  --format FMT          text (default), json, xep0176, xep0065 or xep0260
  --timeout MS          overall deadline in milliseconds (default 3000)
  --explain             text: also list dropped addresses with reasons
  --ipv4 / --ipv6       only IPv4 / only IPv6 addresses
  --loopback            include loopback addresses
  --interface NAME      only this interface (repeatable)
  --exclude-interface NAME  never this interface (repeatable)
  --components N        ICE components, 1-256 (default 1)
  --s5b-port PORT       advertise this SOCKS5 listener port (default: open one)
  --jid JID             full JID written into SOCKS5 candidates; SOCKS5 candidates are
                        gathered only with it (with --password, user@domain logs in as
                        user@domain/jgather-demo)
  --peer-jid JID        target JID for the XEP-0260 dstaddr (default peer@example.org/jgather)
  --sid SID             stream id for XEP-0065/0260 output (default: random)
  --nice                gather through a libnice NiceAgent (what a libnice application would
                        advertise): its host candidates with its numbers, its own STUN srflx
  --external-ip IP[:PORT]  a known external address (1:1 NAT); PORT = forwarded S5B port
  --watch               keep running: print each network change that concerns the
                        gathering, then gather again as an ICE restart (generation + 1,
                        fresh credentials); ends on SIGINT or SIGTERM

STUN (server-reflexive candidates):
  --stun IP[:PORT]      a STUN server (repeatable; port 3478 by default); with --nice the
                        first one goes to libnice, which takes one, and the tuning flags
                        below do not apply (libnice's own schedule)
  --stun-rto MS         initial retransmission timeout (default 500)
  --stun-retries N      retransmissions after the first send (default 0)
  --stun-give-up MS     after the last send, wait this long for an answer (default 400)
  --stun-pacing MS      Ta: start transactions this far apart, 5 or more (default 50)
  --stun-complete WHEN  all: wait for every server (default); first: complete as soon as
                        every base has one mapping

XMPP (Server IP Check); without --password there is no XMPP connection:
  --password PW         log in as --jid (user@domain) with this password
  --xmpp-host HOST      server to connect to (default: the JID's domain)
  --xmpp-port PORT      client-to-server port (default 5222)
  --xmpp-ca FILE        PEM CA file the server's certificate must chain to
  --xmpp-insecure       accept any server certificate
  --sic auto|1|0|off    Server IP Check namespace (default auto: disco, prefer sic:1)
  --help                this text
)";

struct Options {
    std::string format = "text";
    bool jid_given = false;
    jgather::xmpp::ConnectOptions xmpp;
    jgather::SicMode sic = jgather::SicMode::Auto;
    jgather::StunOptions stun;
    bool explain = false;
    std::string peer_jid = "peer@example.org/jgather";
    std::string sid;
    /** Makes the sources of one gathering (--watch gathers again, with new ones). */
    std::vector<std::function<std::unique_ptr<jgather::Source>()>> sources;
    bool watch = false;
    jgather::GatherOptions gather;
    bool nice = false;
    cli::RelayFlags relay;
    std::vector<jgather::TurnServer> turn;
    /** What --extdisco found, once it answered. */
    std::optional<jgather::ExternalServices> services;
};

using cli::json_string;
using cli::ms;
using cli::parse_unsigned;
using cli::usage_error;

Options parse_args(int argc, char** argv) {
    Options o;
    bool only_v4 = false;
    bool only_v6 = false;
    cli::for_each_flag(argc, argv, [&](std::string_view arg, const auto& value) {
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage
                      << "\nRelays and the XMPP server's services (XEP-0215); --turn and "
                         "--relay-only need --nice:\n"
                      << cli::RelayFlags::kUsage;
            std::exit(0);
        } else if (arg == "--format") {
            o.format = value();
            if (o.format != "text" && o.format != "json" && o.format != "xep0176" &&
                o.format != "xep0065" && o.format != "xep0260") {
                usage_error("--format: unknown format '" + o.format + "'");
            }
        } else if (arg == "--timeout") {
            o.gather.deadline = std::chrono::milliseconds(parse_unsigned(arg, value(), 1, 600000));
        } else if (arg == "--explain") {
            o.explain = true;
        } else if (arg == "--ipv4") {
            only_v4 = true;
        } else if (arg == "--ipv6") {
            only_v6 = true;
        } else if (arg == "--loopback") {
            o.gather.host.include_loopback = true;
        } else if (arg == "--interface") {
            o.gather.host.allow_interfaces.push_back(value());
        } else if (arg == "--exclude-interface") {
            o.gather.host.deny_interfaces.push_back(value());
        } else if (arg == "--components") {
            o.gather.components = parse_unsigned(arg, value(), 1, 256);
        } else if (arg == "--s5b-port") {
            o.gather.s5b_port = static_cast<std::uint16_t>(parse_unsigned(arg, value(), 1, 65535));
        } else if (arg == "--jid") {
            o.gather.jid = value();
            o.jid_given = true;
        } else if (arg == "--stun") {
            auto server = jgather::StunSource::parse_server(value());
            if (!server) {
                usage_error("--stun: " + server.error().message);
            }
            o.stun.servers.push_back(*server);
        } else if (arg == "--stun-rto") {
            o.stun.initial_rto = std::chrono::milliseconds(parse_unsigned(arg, value(), 1, 60000));
        } else if (arg == "--stun-retries") {
            o.stun.retransmissions = parse_unsigned(arg, value(), 0, 10);
        } else if (arg == "--stun-complete") {
            const std::string when = value();
            if (when == "all") {
                o.stun.completion = jgather::StunCompletion::AllServers;
            } else if (when == "first") {
                o.stun.completion = jgather::StunCompletion::FirstMappingPerBase;
            } else {
                usage_error("--stun-complete: expected all or first, not '" + when + "'");
            }
        } else if (arg == "--stun-give-up") {
            o.stun.final_wait = std::chrono::milliseconds(parse_unsigned(arg, value(), 1, 600000));
        } else if (arg == "--stun-pacing") {
            o.stun.pacing = std::chrono::milliseconds(parse_unsigned(arg, value(), 0, 60000));
        } else if (arg == "--password") {
            o.xmpp.password = value();
        } else if (arg == "--xmpp-host") {
            o.xmpp.host = value();
        } else if (arg == "--xmpp-port") {
            o.xmpp.port = static_cast<int>(parse_unsigned(arg, value(), 1, 65535));
        } else if (arg == "--xmpp-ca") {
            o.xmpp.ca_file = value();
        } else if (arg == "--xmpp-insecure") {
            o.xmpp.insecure = true;
        } else if (arg == "--sic") {
            const std::string mode = value();
            auto parsed = jgather::parse_sic_mode(mode);
            if (!parsed) {
                usage_error("--sic: '" + mode + "' is not auto, 1, 0 or off");
            }
            o.sic = *parsed;
        } else if (arg == "--peer-jid") {
            o.peer_jid = value();
        } else if (arg == "--sid") {
            o.sid = value();
        } else if (arg == "--nice") {
            o.nice = true;
        } else if (arg == "--external-ip") {
            const std::string text(value());
            if (auto source = jgather::ConfiguredExternalSource::parse(text); !source) {
                usage_error("--external-ip: " + source.error().message);
            }
            o.sources.emplace_back([text] {
                return std::unique_ptr<jgather::Source>(
                    std::move(jgather::ConfiguredExternalSource::parse(text).value()));
            });
        } else if (arg == "--watch") {
            o.watch = true;
        } else if (o.relay.parse(arg, value)) {
            // --extdisco, --turn*, --relay-only
        } else {
            usage_error("unknown option '" + std::string(arg) + "'");
        }
    });
    if (only_v4 && only_v6) {
        usage_error("--ipv4 and --ipv6 exclude each other");
    }
    o.gather.host.ipv4 = !only_v6;
    o.gather.host.ipv6 = !only_v4;
    if (!o.stun.servers.empty()) {
        if (auto valid = o.stun.validate(); !valid) {
            usage_error(valid.error().message);
        }
        // With --nice, libnice asks its own STUN server; with --extdisco, the discovery's
        // STUN source asks these and the announced ones.
        if (!o.nice && !o.relay.extdisco) {
            o.sources.emplace_back([stun = o.stun] {
                return std::unique_ptr<jgather::Source>(
                    std::make_unique<jgather::StunSource>(stun));
            });
        }
    }
    o.turn = o.relay.servers();
    if (!o.nice && (!o.turn.empty() || o.relay.relay_only)) {
        usage_error(std::string(o.turn.empty() ? "--relay-only" : "--turn") +
                    " needs --nice (relays are allocated by libnice)");
    }
    o.gather.relay_only = o.relay.relay_only;
    if (o.relay.extdisco && o.xmpp.password.empty()) {
        usage_error("--extdisco needs --jid and --password (the services come over XMPP)");
    }
    if (!o.xmpp.password.empty()) {
        if (!o.jid_given) {
            usage_error("--password needs --jid user@domain");
        }
        if (o.gather.jid.find('/') == std::string::npos) {
            o.gather.jid += "/jgather-demo"; // the resource to bind, and the S5B candidates' JID
        }
        o.xmpp.jid = o.gather.jid;
    }
    const bool s5b_format = o.format == "xep0065" || o.format == "xep0260";
    if (s5b_format && !o.jid_given) {
        usage_error("--format " + o.format + " needs --jid (the full JID of the SOCKS5 offer)");
    }
    o.gather.s5b = o.jid_given;
    if (o.gather.s5b && o.gather.jid.find('/') == std::string::npos) {
        usage_error("--jid: SOCKS5 candidates need a full JID (user@domain/resource), not '" +
                    o.gather.jid + "'");
    }
    return o;
}

std::string describe(const jgather::Candidate& c) {
    std::ostringstream out;
    out << jgather::to_string(c.transport()) << ' ';
    if (c.transport() == jgather::TransportKind::IceUdp) {
        out << jgather::to_string(c.ice()->type) << " component " << c.ice()->component << ' ';
    } else {
        out << jgather::to_string(c.s5b()->type) << ' ';
    }
    const bool v6 = c.host.find(':') != std::string::npos;
    out << (v6 ? "[" : "") << c.host << (v6 ? "]" : "") << ':' << c.port << " priority "
        << c.priority;
    if (c.transport() == jgather::TransportKind::IceUdp && c.ice()->related) {
        out << " related " << c.ice()->related->to_string();
    }
    out << " from " << c.origin.to_string();
    return out.str();
}

void print_json(const jgather::GatherResult& r,
                const std::optional<jgather::ExternalServices>& services) {
    std::ostringstream out;
    out << "{\n  \"elapsed_ms\": " << ms(r.elapsed) << ",\n  \"ufrag\": " << json_string(r.ufrag)
        << ",\n  \"pwd\": " << json_string(r.pwd) << ",\n  \"candidates\": [";
    bool first = true;
    auto candidates = r.ice;
    candidates.insert(candidates.end(), r.s5b.begin(), r.s5b.end());
    for (const jgather::Candidate& c : candidates) {
        out << (first ? "\n" : ",\n")
            << "    {\"transport\": " << json_string(to_string(c.transport()));
        first = false;
        const bool ice = c.transport() == jgather::TransportKind::IceUdp;
        out << ", \"type\": "
            << json_string(ice ? to_string(c.ice()->type) : to_string(c.s5b()->type))
            << ", \"ip\": " << json_string(c.host) << ", \"port\": " << c.port
            << ", \"priority\": " << c.priority << ", \"source\": " << json_string(c.origin.source)
            << ", \"origin\": " << json_string(c.origin.to_string())
            << ", \"interface\": " << json_string(c.interface);
        if (ice) {
            out << ", \"component\": " << c.ice()->component
                << ", \"foundation\": " << json_string(c.ice()->foundation)
                << ", \"generation\": " << c.ice()->generation
                << ", \"id\": " << json_string(c.ice()->id)
                << ", \"network\": " << c.ice()->network;
            if (c.ice()->related) {
                out << ", \"related_ip\": " << json_string(c.ice()->related->ip.to_string())
                    << ", \"related_port\": " << c.ice()->related->port;
            }
        } else {
            out << ", \"cid\": " << json_string(c.s5b()->cid)
                << ", \"jid\": " << json_string(c.s5b()->jid);
        }
        out << "}";
    }
    out << "\n  ],\n  \"external_addresses\": [";
    first = true;
    for (const jgather::ExternalAddress& e : r.external_addresses) {
        out << (first ? "\n" : ",\n") << "    {\"ip\": " << json_string(e.ip.to_string())
            << ", \"port\": ";
        first = false;
        if (auto port = e.observed_port ? e.observed_port : e.forwarded_port) {
            out << *port;
        } else {
            out << "null";
        }
        out << ", \"source\": " << json_string(e.origin.source)
            << ", \"origin\": " << json_string(e.origin.to_string()) << "}";
    }
    out << "\n  ],\n  \"sources\": [";
    first = true;
    for (const jgather::SourceReport& s : r.sources) {
        out << (first ? "\n" : ",\n") << "    {\"name\": " << json_string(s.name)
            << ", \"status\": " << json_string(to_string(s.state))
            << ", \"elapsed_ms\": " << ms(s.elapsed)
            << ", \"error\": " << (s.error.empty() ? std::string("null") : json_string(s.error))
            << ", \"detail\": " << (s.detail.empty() ? std::string("null") : json_string(s.detail))
            << "}";
        first = false;
    }
    out << "\n  ],\n  \"network\": {\"nat\": " << json_string(to_string(r.network.nat))
        << ", \"ipv4\": " << json_string(to_string(r.network.ipv4))
        << ", \"ipv6\": " << json_string(to_string(r.network.ipv6)) << ", \"port_preserved\": "
        << (r.network.port_preserved ? (*r.network.port_preserved ? "true" : "false") : "null")
        << ", \"notes\": [";
    for (std::size_t i = 0; i < r.network.notes.size(); ++i) {
        out << (i ? ", " : "") << json_string(r.network.notes[i]);
    }
    out << "]},\n  \"external_services\": " << cli::json(services) << ",\n  \"dropped\": [";
    first = true;
    for (const jgather::DroppedAddress& d : r.dropped) {
        out << (first ? "\n" : ",\n") << "    {\"ip\": " << json_string(d.address)
            << ", \"interface\": " << json_string(d.interface)
            << ", \"reason\": " << json_string(d.reason) << "}";
        first = false;
    }
    out << "\n  ]\n}\n";
    std::cout << out.str();
}

void print_text(const jgather::GatherResult& r,
                const std::optional<jgather::ExternalServices>& services, bool explain) {
    std::cout << "ICE-UDP (ufrag " << r.ufrag << ", pwd " << r.pwd << "):\n";
    for (const auto& c : r.ice) {
        std::cout << "  " << describe(c) << " [" << c.interface << "]\n";
    }
    std::cout << "SOCKS5 (listener port " << r.s5b_port << "):\n";
    for (const auto& c : r.s5b) {
        std::cout << "  " << describe(c) << "\n";
    }
    if (!r.external_addresses.empty()) {
        std::cout << "External addresses:\n";
        for (const auto& e : r.external_addresses) {
            std::cout << "  " << e.ip.to_string() << " from " << e.origin.to_string() << "\n";
        }
    }
    switch (r.network.nat) {
    case jgather::NetworkVerdict::Nat::None:
        std::cout << "Network: no NAT (the outside sees a local address)";
        break;
    case jgather::NetworkVerdict::Nat::Nat:
        std::cout << "Network: behind a NAT";
        break;
    case jgather::NetworkVerdict::Nat::Unknown:
        std::cout << "Network: unknown (no external address learned)";
        break;
    }
    std::cout << " (IPv4 " << to_string(r.network.ipv4) << ", IPv6 " << to_string(r.network.ipv6)
              << ")";
    if (r.network.port_preserved) {
        std::cout << (*r.network.port_preserved ? ", ports preserved" : ", ports not preserved");
    }
    std::cout << "\n";
    for (const auto& note : r.network.notes) {
        std::cout << "  note: " << note << "\n";
    }
    std::cout << "Sources:\n";
    for (const auto& s : r.sources) {
        std::cout << "  " << s.name << ": " << to_string(s.state) << " after " << ms(s.elapsed)
                  << " ms" << (s.error.empty() ? "" : " (" + s.error + ")") << "\n";
        if (!s.detail.empty()) {
            std::cout << "    " << s.detail << "\n";
        }
    }
    if (services) {
        std::cout << "XMPP server's STUN/TURN services:\n" << cli::describe(*services, "  ");
    }
    if (explain) {
        std::cout << "Dropped:\n";
        for (const auto& d : r.dropped) {
            std::cout << "  " << d.address << (d.interface.empty() ? "" : " on " + d.interface)
                      << ": " << d.reason << "\n";
        }
    }
    std::cout << "Completed in " << ms(r.elapsed) << " ms\n";
}

void print_result(const Options& o, const jgather::GatherResult& r) {
    if (o.format == "json") {
        print_json(r, o.services);
    } else if (o.format == "xep0176") {
        std::cout << jgather::xep0176::write({r.ufrag, r.pwd, r.ice}) << "\n";
    } else if (o.format == "xep0065") {
        std::cout << jgather::xep0065::write(
                         {o.sid, "tcp", jgather::xep0065::streamhosts_from(r.s5b)})
                  << "\n";
    } else if (o.format == "xep0260") {
        const std::string dst = jgather::xep0260::dstaddr(o.sid, o.gather.jid, o.peer_jid);
        std::cout << jgather::xep0260::write({o.sid, dst, "tcp", r.s5b}) << "\n";
    } else {
        print_text(r, o.services, o.explain);
    }
}

std::string describe(const jgather::LocalAddress& a) {
    std::string text =
        a.ip.to_string() + "/" + std::to_string(a.prefix_length) + " on " + a.interface;
    if (!a.up) {
        text += " (interface down)";
    } else if (a.deprecated) {
        text += " (deprecated)";
    } else if (a.tentative) {
        text += " (tentative)";
    }
    return text;
}

// --watch: one line (text) or one JSON object per change, flushed at once.
void print_change(const Options& o, const jgather::NetworkChange& change, double at_ms) {
    using List = std::vector<jgather::LocalAddress>;
    const std::pair<const char*, const List*> parts[] = {
        {"added", &change.added}, {"removed", &change.removed}, {"changed", &change.changed}};
    if (o.format == "json") {
        std::cout << "{\"network_change\": {\"ms\": " << at_ms;
        for (const auto& [name, list] : parts) {
            std::cout << ", \"" << name << "\": [";
            for (std::size_t i = 0; i < list->size(); ++i) {
                const jgather::LocalAddress& a = (*list)[i];
                std::cout << (i ? ", " : "") << "{\"ip\": " << json_string(a.ip.to_string())
                          << ", \"interface\": " << json_string(a.interface)
                          << ", \"up\": " << (a.up ? "true" : "false")
                          << ", \"deprecated\": " << (a.deprecated ? "true" : "false") << "}";
            }
            std::cout << "]";
        }
        std::cout << "}}\n";
    } else {
        std::cout << "Network change:";
        for (const auto& [name, list] : parts) {
            for (const jgather::LocalAddress& a : *list) {
                std::cout << " " << name << " " << describe(a) << ";";
            }
        }
        std::cout << "\n";
    }
    std::cout << std::flush;
}

} // namespace

// Runs one gathering on the default context and prints it; returns the exit status. With
// --watch it then waits for a network change that concerns it and returns 0 with *again set.
int gather_and_print(Options& options, jgather::EventLoop& loop, GMainLoop* main_loop,
                     jgather::SicService* sic, jgather::ExtdiscoService* extdisco,
                     bool* again = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    jgather::Gatherer gatherer(loop, options.gather);
    // --nice: the agent a libnice application would own, one stream, on the same context.
    std::unique_ptr<NiceAgent, decltype(&g_object_unref)> agent(nullptr, g_object_unref);
    guint stream = 0;
    if (options.nice) {
        agent.reset(nice_agent_new_full(g_main_context_default(), NICE_COMPATIBILITY_RFC5245,
                                        NICE_AGENT_OPTION_NONE));
        stream = nice_agent_add_stream(agent.get(), options.gather.components);
        for (guint c = 1; c <= options.gather.components; ++c) {
            // libnice reads a component's sockets only once a receiver is attached.
            nice_agent_attach_recv(
                agent.get(), stream, c, g_main_context_default(),
                [](NiceAgent*, guint, guint, guint, gchar*, gpointer) {}, nullptr);
        }
        jgather::nice::AgentOptions agent_options;
        agent_options.relays = options.turn;
        agent_options.services = extdisco;
        if (!options.stun.servers.empty()) {
            agent_options.stun_server = options.stun.servers.front();
            if (options.stun.servers.size() > 1) {
                std::fprintf(stderr, "jgather-demo: libnice takes one STUN server: %s\n",
                             agent_options.stun_server->to_string().c_str());
            }
        }
        if (auto attached = jgather::nice::attach(gatherer, agent.get(), stream, agent_options);
            !attached) {
            std::fprintf(stderr, "jgather-demo: %s\n", attached.error().message.c_str());
            return 1;
        }
    }
    for (const auto& make_source : options.sources) {
        gatherer.add_source(make_source());
    }
    if (sic) {
        gatherer.add_source(sic->source());
    }
    if (extdisco && !options.nice) {
        gatherer.add_source(extdisco->stun_source(options.stun));
    }
    gatherer.on_candidate = [&](const jgather::Candidate& c) {
        const auto since = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
        std::fprintf(stderr, "[%8.3f ms] %s\n", ms(since), describe(c).c_str());
    };
    gatherer.on_candidate_superseded = [&](const jgather::Candidate& old,
                                           const jgather::Candidate& by) {
        const auto since = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
        std::fprintf(stderr, "[%8.3f ms] superseded: %s (by the one from %s)\n", ms(since),
                     describe(old).c_str(), by.origin.to_string().c_str());
    };
    gatherer.on_source_done = [&](const jgather::SourceReport& r) {
        std::fprintf(stderr, "[%8.3f ms] source %s: %s%s\n", ms(r.elapsed), r.name.c_str(),
                     std::string(to_string(r.state)).c_str(),
                     r.error.empty() ? "" : (" (" + r.error + ")").c_str());
    };
    gatherer.on_complete = [&](const jgather::GatherResult& result) {
        print_result(options, result);
        std::cout << std::flush;
        if (!options.watch) {
            g_main_loop_quit(main_loop);
        }
    };
    bool changed = false;
    if (options.watch) {
        gatherer.on_network_change = [&](const jgather::NetworkChange& change) {
            const auto since = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start);
            print_change(options, change, ms(since));
            changed = true; // RFC 8445 §9: gather again as an ICE restart
            g_main_loop_quit(main_loop);
        };
    }
    int exit_code = 0;
    auto start_gathering = [&] {
        if (auto started = gatherer.gather(); !started) {
            std::fprintf(stderr, "jgather-demo: %s\n", started.error().message.c_str());
            exit_code = 1;
            g_main_loop_quit(main_loop);
        }
    };
    std::uint64_t asked = 0;
    if (extdisco) {
        // With --nice the services are asked first, so that libnice gets the announced STUN
        // server as well as the TURN servers (it takes its STUN server before it gathers). In
        // the own-socket mode the STUN source waits for the same answer (one query).
        asked = extdisco->request([&](const jgather::ExternalServices& found) {
            asked = 0;
            const auto since = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start);
            std::fprintf(stderr, "[%8.3f ms] xmpp: %s", ms(since),
                         cli::describe(found, "").c_str());
            options.services = found;
            if (options.nice) {
                start_gathering();
            }
        });
    }
    if (!extdisco || !options.nice) {
        start_gathering();
    }
    if (exit_code == 0) {
        g_main_loop_run(main_loop);
    }
    if (asked != 0) {
        extdisco->cancel(asked); // the gathering ended first: its captures go now
    }
    if (agent) {
        for (guint c = 1; c <= options.gather.components; ++c) {
            nice_agent_attach_recv(agent.get(), stream, c, g_main_context_default(), nullptr,
                                   nullptr);
        }
        cli::close_agent(agent.release(), g_main_context_default());
    }
    if (again) {
        *again = changed && exit_code == 0;
    }
    return exit_code;
}

// Gathers once, or (--watch) again after every network change until SIGINT/SIGTERM.
int gather_until_done(Options& options, jgather::EventLoop& loop, GMainLoop* main_loop,
                      jgather::SicService* sic, jgather::ExtdiscoService* extdisco) {
    if (!options.watch) {
        return gather_and_print(options, loop, main_loop, sic, extdisco);
    }
    const auto quit = +[](gpointer data) -> gboolean {
        g_main_loop_quit(static_cast<GMainLoop*>(data));
        return G_SOURCE_CONTINUE;
    };
    const guint sigint = g_unix_signal_add(SIGINT, quit, main_loop);
    const guint sigterm = g_unix_signal_add(SIGTERM, quit, main_loop);
    int exit_code = 0;
    for (bool again = true; again && exit_code == 0;) {
        exit_code = gather_and_print(options, loop, main_loop, sic, extdisco, &again);
        if (again) {
            // An ICE restart: the next generation, with the fresh credentials of a new gatherer.
            options.gather.generation = (options.gather.generation + 1) % 256;
            std::cout << "Gathering again: generation " << options.gather.generation << "\n"
                      << std::flush;
        }
    }
    g_source_remove(sigint);
    g_source_remove(sigterm);
    return exit_code;
}

int main(int argc, char** argv) {
    cli::program = "jgather-demo";
    Options options = parse_args(argc, argv);
    if (options.sid.empty()) {
        gchar* uuid = g_uuid_string_random();
        options.sid = uuid;
        g_free(uuid);
    }

    GMainLoop* main_loop = g_main_loop_new(nullptr, FALSE);
    auto loop = jgather::glib::make_loop(nullptr);
    int exit_code = 0;
    if (options.xmpp.password.empty()) {
        exit_code = gather_until_done(options, *loop, main_loop, nullptr, nullptr);
    } else {
        // The gathering starts at once: host candidates never wait for XMPP. Server IP Check
        // waits for the connection inside its own source, bounded by --timeout; a failed
        // connection fails that source and nothing else.
        jgather::xmpp::XmppConnection connection(nullptr, options.xmpp);
        jgather::SicService sic(connection, options.sic);
        std::optional<jgather::ExtdiscoService> extdisco;
        if (options.relay.extdisco) {
            // Bounded by the gathering's deadline, which it precedes with --nice.
            jgather::ExtdiscoOptions discovery;
            discovery.timeout = std::min(discovery.timeout, options.gather.deadline);
            extdisco.emplace(connection, discovery);
        }
        const auto start = std::chrono::steady_clock::now();
        const auto since = [&start] {
            return ms(std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start));
        };
        connection.on_connected = [&] {
            std::fprintf(stderr, "[%8.3f ms] xmpp: connected as %s\n", since(),
                         connection.client().jid().full().c_str());
        };
        connection.on_disconnected = [&](const jgather::xmpp::Disconnect& d) {
            std::fprintf(stderr, "[%8.3f ms] xmpp: %s\n", since(), d.message.c_str());
        };
        if (!connection.connect()) {
            std::fprintf(stderr, "jgather-demo: xmpp: cannot connect as '%s'\n",
                         options.xmpp.jid.c_str());
        }
        exit_code =
            gather_until_done(options, *loop, main_loop, &sic, extdisco ? &*extdisco : nullptr);
        connection.on_connected = nullptr;
        connection.on_disconnected = nullptr;
        connection.disconnect();
    }
    g_main_loop_unref(main_loop);
    return exit_code;
}
