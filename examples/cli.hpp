// What the example programs share: usage errors, number flags, JSON strings, times in ms.
// Header-only, for examples; not installed.
#pragma once

#include <agent.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <glib.h>
#include <gloox/error.h>
#include <gloox/tag.h>

#include <jgather/gloox.hpp>
#include <jgather/ice_servers.hpp>

namespace cli {

/** The program's name in messages ("jgather-demo"); set once in main(). */
inline std::string program = "jgather";

/** Prints "PROGRAM: message (try --help)" and exits 2 (a usage error). */
[[noreturn]] inline void usage_error(const std::string& message) {
    std::fprintf(stderr, "%s: %s (try --help)\n", program.c_str(), message.c_str());
    std::exit(2);
}

/** @p text as a number in [@p min, @p max], or a usage error naming @p flag. */
inline unsigned parse_unsigned(std::string_view flag, const std::string& text, unsigned min,
                               unsigned max) {
    char* end = nullptr;
    errno = 0;
    const unsigned long value = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || value < min ||
        value > max) {
        usage_error(std::string(flag) + ": '" + text + "' is not a number in " +
                    std::to_string(min) + "-" + std::to_string(max));
    }
    return static_cast<unsigned>(value);
}

/**
 * Calls @p take(arg, value) for each command-line argument after the program's name; value()
 * consumes and returns the next argument, or is a usage error ("--flag needs a value") when
 * there is none.
 */
template <class Take> void for_each_flag(int argc, char** argv, Take&& take) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage_error(std::string(arg) + " needs a value");
            }
            return argv[++i];
        };
        take(arg, value);
    }
}

/** Microseconds as milliseconds. */
inline double ms(std::chrono::microseconds us) {
    return static_cast<double>(us.count()) / 1000.0;
}

/** @p text as a JSON string literal (RFC 8259 §7). */
inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                out += buffer;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

/**
 * Releases what @p agent holds on its servers (TURN allocations: a Refresh with lifetime 0,
 * RFC 8656 §7) before the last reference goes, iterating @p context until libnice says it is
 * done or @p limit has passed; then drops the reference. Without it libnice warns and the
 * allocations live on at the server until they expire.
 */
inline void close_agent(NiceAgent* agent, GMainContext* context,
                        std::chrono::milliseconds limit = std::chrono::milliseconds(500)) {
    // Shared with the callback, which may come after the limit (from a later iteration).
    auto closed = std::make_shared<bool>(false);
    nice_agent_close_async(
        agent,
        [](GObject*, GAsyncResult*, gpointer data) {
            std::unique_ptr<std::shared_ptr<bool>> flag(static_cast<std::shared_ptr<bool>*>(data));
            **flag = true;
        },
        new std::shared_ptr<bool>(closed));
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!*closed && std::chrono::steady_clock::now() < until) {
        if (!g_main_context_iteration(context, FALSE)) {
            g_usleep(1000);
        }
    }
    g_object_unref(agent);
}

/**
 * Runs a session program (jgather-call, jgather-send, jgather-receive) on the default context:
 * constructs @p Program with @p options and the main loop, run()s it, iterates until it has
 * ended(), prints its report() and returns its exit_code(). The context is drained before the
 * program is destroyed, so that its session-terminate leaves before the connection closes.
 */
template <class Program, class Options> int run_session(Options options) {
    GMainLoop* main_loop = g_main_loop_new(nullptr, FALSE);
    int exit_code = 1;
    {
        Program program(std::move(options), main_loop);
        program.run();
        if (!program.ended()) {
            g_main_loop_run(main_loop);
        }
        program.report();
        exit_code = program.exit_code();
        while (g_main_context_iteration(nullptr, FALSE)) {
        }
    }
    g_main_loop_unref(main_loop);
    return exit_code;
}

/** The XMPP account flags of jgather-call, jgather-send and jgather-receive. */
struct XmppFlags {
    /** Their usage lines. */
    static constexpr std::string_view kUsage =
        R"(  --jid FULLJID         the account and resource to log in as (user@domain/resource)
  --password PW         its password
  --xmpp-host HOST      server to connect to (default: the JID's domain)
  --xmpp-port PORT      client-to-server port (default 5222)
  --xmpp-ca FILE        PEM CA file the server's certificate must chain to
  --xmpp-insecure       accept any server certificate
)";

    /** Takes @p arg into @p o if it is one of these flags (its value through @p value). */
    template <class Value>
    static bool parse(std::string_view arg, Value&& value, jgather::xmpp::ConnectOptions& o) {
        if (arg == "--jid") {
            o.jid = value();
        } else if (arg == "--password") {
            o.password = value();
        } else if (arg == "--xmpp-host") {
            o.host = value();
        } else if (arg == "--xmpp-port") {
            o.port = static_cast<int>(parse_unsigned(arg, value(), 1, 65535));
        } else if (arg == "--xmpp-ca") {
            o.ca_file = value();
        } else if (arg == "--xmpp-insecure") {
            o.insecure = true;
        } else {
            return false;
        }
        return true;
    }

    /** A usage error unless @p o names a full JID (the peer addresses it) and a password. */
    static void require_full_jid(const jgather::xmpp::ConnectOptions& o) {
        if (o.jid.empty() || o.password.empty()) {
            usage_error("--jid and --password are required");
        }
        if (o.jid.find('/') == std::string::npos) {
            usage_error("--jid: a full JID (user@domain/resource), so the peer can reach it");
        }
    }
};

/** The flags for relays and the server's services, shared by jgather-demo and jgather-call. */
struct RelayFlags {
    bool extdisco = false;   ///< --extdisco: use the STUN/TURN services the XMPP server announces
    bool relay_only = false; ///< --relay-only: advertise relay candidates only
    std::vector<std::string> turn; ///< --turn IP[:PORT] (repeatable)
    std::string user;              ///< --turn-user
    std::string password;          ///< --turn-password
    jgather::RelayTransport transport = jgather::RelayTransport::Udp; ///< --turn-transport

    /** The usage lines of these flags. */
    static constexpr std::string_view kUsage =
        R"(  --extdisco            use the STUN and TURN servers the XMPP server announces (XEP-0215),
                        with their credentials; needs --password
  --turn IP[:PORT]      a TURN server (repeatable; port 3478 by default) for libnice
  --turn-user U / --turn-password P  its long-term credentials (required with --turn)
  --turn-transport udp|tcp  how libnice reaches the TURN servers (default udp)
  --relay-only          advertise relay candidates only (privacy: no local or mapped address)
)";

    /** Takes @p arg if it is one of these flags (its value through @p value); false if not. */
    template <class Value> bool parse(std::string_view arg, Value&& value) {
        if (arg == "--extdisco") {
            extdisco = true;
        } else if (arg == "--relay-only") {
            relay_only = true;
        } else if (arg == "--turn") {
            turn.push_back(value());
        } else if (arg == "--turn-user") {
            user = value();
        } else if (arg == "--turn-password") {
            password = value();
        } else if (arg == "--turn-transport") {
            const std::string text = value();
            auto parsed = jgather::parse_relay_transport(text);
            if (!parsed) {
                usage_error("--turn-transport: '" + text + "' is not udp or tcp");
            }
            transport = *parsed;
        } else {
            return false;
        }
        return true;
    }

    /** The --turn servers with their credentials, or a usage error that says what is wrong. */
    [[nodiscard]] std::vector<jgather::TurnServer> servers() const {
        if (turn.empty() && (!user.empty() || !password.empty())) {
            usage_error("--turn-user and --turn-password need --turn");
        }
        std::vector<jgather::TurnServer> out;
        for (const std::string& address : turn) {
            auto server = jgather::make_turn_server(address, user, password, transport, "--turn");
            if (!server) {
                usage_error("--turn " + address + ": " + server.error().message);
            }
            out.push_back(std::move(*server));
        }
        return out;
    }
};

/** @p t as an XEP-0082 DateTime in UTC ("2026-12-03T18:56:30Z"). */
inline std::string utc(std::chrono::system_clock::time_point t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return buffer;
}

/** One announced service for a person: kind, address, transport, expiry, status (never the
 * password). */
/** " (<error .../>)": a peer's or server's IQ error as it came, condition and text; "" without
 * one. */
inline std::string describe(const gloox::Error* error) {
    if (error == nullptr) {
        return {};
    }
    const std::unique_ptr<gloox::Tag> tag(error->tag());
    return tag ? " (" + tag->xml() + ")" : " (" + error->text() + ")";
}

inline std::string describe(const jgather::ExternalService& s) {
    std::ostringstream out;
    const bool v6 = s.host.find(':') != std::string::npos;
    out << jgather::to_string(s.type) << ' ' << (v6 ? "[" : "") << s.host << (v6 ? "]" : "") << ':'
        << s.port << ' ' << s.transport;
    if (s.restricted) {
        out << " restricted";
    }
    if (!s.username.empty()) {
        out << " user " << s.username;
    }
    if (s.expires) {
        out << " expires " << utc(*s.expires);
    }
    out << ": " << (s.usable() ? "usable" : s.problem);
    return out.str();
}

/** What a discovery found, as text lines (each starting with @p indent). */
inline std::string describe(const jgather::ExternalServices& found, const std::string& indent) {
    std::ostringstream out;
    out << indent << "services of " << found.server
        << (found.ns.empty() ? "" : " (" + found.ns + ")");
    if (found.round_trips == 0 && found.error.empty()) {
        out << ", cached";
    }
    out << (found.error.empty() ? "" : ": " + found.error) << "\n";
    for (const jgather::ExternalService& s : found.services) {
        out << indent << "  " << describe(s) << "\n";
    }
    return out.str();
}

/** What a discovery found as a JSON object (the password never appears), or null. */
inline std::string json(const std::optional<jgather::ExternalServices>& found) {
    if (!found) {
        return "null";
    }
    std::ostringstream out;
    out << "{\"server\": " << json_string(found->server)
        << ", \"namespace\": " << (found->ns.empty() ? "null" : json_string(found->ns))
        << ", \"error\": " << (found->error.empty() ? "null" : json_string(found->error))
        << ", \"round_trips\": " << found->round_trips << ", \"services\": [";
    bool first = true;
    for (const jgather::ExternalService& s : found->services) {
        out << (first ? "" : ", ") << "{\"type\": " << json_string(jgather::to_string(s.type))
            << ", \"host\": " << json_string(s.host) << ", \"port\": " << s.port
            << ", \"transport\": " << json_string(s.transport)
            << ", \"restricted\": " << (s.restricted ? "true" : "false")
            << ", \"username\": " << (s.username.empty() ? "null" : json_string(s.username))
            << ", \"expires\": " << (s.expires ? json_string(utc(*s.expires)) : "null")
            << ", \"addresses\": [";
        for (std::size_t i = 0; i < s.addresses.size(); ++i) {
            out << (i ? ", " : "") << json_string(s.addresses[i].to_string());
        }
        out << "], \"status\": " << json_string(s.usable() ? "usable" : "unusable")
            << ", \"problem\": " << (s.usable() ? "null" : json_string(s.problem)) << "}";
        first = false;
    }
    out << "]}";
    return out.str();
}

} // namespace cli
