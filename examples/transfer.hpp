// What jgather-send and jgather-receive share: their flags and the transfer itself (a Jingle
// file transfer, XEP-0234 over XEP-0260 SOCKS5 with jgather's candidates). Not installed.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <jgather/gloox.hpp>
#include <jgather/sources/sic.hpp>

namespace transfer {

/** Which end of the transfer this process is. */
enum class Role { Send, Receive };

/** Which proxies to offer (XEP-0065 §4). */
enum class ProxyMode {
    Auto, ///< Discover the server's (disco#items, disco#info, bytestreams query).
    Off,  ///< Offer none.
    Jid,  ///< Ask the one named with --proxy JID.
};

/** The command line of either program. */
struct Options {
    Role role = Role::Send;
    jgather::xmpp::ConnectOptions xmpp;
    std::string peer; ///< --to (send only)
    std::string file; ///< --file (send) or --out (receive)
    ProxyMode proxy = ProxyMode::Auto;
    std::string proxy_jid;
    bool no_direct = false; ///< Offer and try proxy candidates only (send only).
    jgather::SicMode sic = jgather::SicMode::Auto;
    bool only_v4 = false;
    bool only_v6 = false;
    std::uint16_t port = 0; ///< --s5b-port: the listener's port (0 = chosen by the system).
    std::chrono::milliseconds timeout{60000};
    std::string format = "text";
};

/** Parses the flags of @p role's program; a usage error exits 2. */
Options parse_args(Role role, int argc, char** argv);

/** Runs the transfer, prints the report; the exit code (0 whole file, 1 otherwise). */
int run(Options options);

} // namespace transfer
