// The command lines of jgather-send and jgather-receive.
#include <iostream>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "transfer.hpp"

namespace transfer {
namespace {

constexpr std::string_view kSendHead =
    R"(usage: jgather-send --jid FULLJID --password PW --to PEER_FULL_JID --file PATH [options]

Offers PATH to PEER_FULL_JID in a Jingle session (XEP-0166, XEP-0234 file transfer, XEP-0260
SOCKS5 transport with jgather's direct, assisted and proxy candidates) and sends it over the
first candidate pair that connects. Progress goes to stderr; the report to stdout. Exit 0 when
the receiver confirmed the whole file (same size and SHA-256), 1 otherwise, 2 on a usage error.

)";

constexpr std::string_view kSendTail =
    R"(  --to PEER_FULL_JID    the receiver (user@domain/resource)
  --file PATH           the file to send
  --proxy auto|off|JID  XEP-0065 proxies to offer: the server's (default), none, or this one
  --no-direct           offer and try proxy candidates only (no direct or assisted connection)
  --sic auto|1|0|off    Server IP Check for the assisted candidate (default auto)
  --ipv4 / --ipv6       only IPv4 / only IPv6 local addresses
  --s5b-port PORT       listen for direct connections on this TCP port (e.g. one forwarded
                        by the router: the assisted candidate then works); default: any
  --timeout MS          the whole run (default 60000)
  --format text|json    the report (default text)
  --help                this text
)";

constexpr std::string_view kReceiveHead =
    R"(usage: jgather-receive --jid FULLJID --password PW --out PATH [options]

Waits for a file offer (XEP-0234 over XEP-0260 SOCKS5), accepts the first one, offers its own
candidates, receives the file into PATH (written as PATH.part and renamed once its size and
SHA-256 match the offer) and ends the session. Progress goes to stderr; the report to stdout.
Exit 0 when the whole file arrived, 1 otherwise, 2 on a usage error.

)";

constexpr std::string_view kReceiveTail =
    R"(  --out PATH            where to write the file
  --proxy auto|off|JID  XEP-0065 proxies to offer: the server's (default), none, or this one
  --sic auto|1|0|off    Server IP Check for the assisted candidate (default auto)
  --ipv4 / --ipv6       only IPv4 / only IPv6 local addresses
  --s5b-port PORT       listen for direct connections on this TCP port (e.g. one forwarded
                        by the router: the assisted candidate then works); default: any
  --timeout MS          the whole run, including the wait for an offer (default 60000)
  --format text|json    the report (default text)
  --help                this text
)";

} // namespace

Options parse_args(Role role, int argc, char** argv) {
    Options o;
    o.role = role;
    const bool send = role == Role::Send;
    cli::for_each_flag(argc, argv, [&](std::string_view arg, const auto& value) {
        if (arg == "--help" || arg == "-h") {
            std::cout << (send ? kSendHead : kReceiveHead) << cli::XmppFlags::kUsage
                      << (send ? kSendTail : kReceiveTail);
            std::exit(0);
        } else if (cli::XmppFlags::parse(arg, value, o.xmpp)) {
            // --jid, --password, --xmpp-*
        } else if (send && arg == "--to") {
            o.peer = value();
        } else if ((send && arg == "--file") || (!send && arg == "--out")) {
            o.file = value();
        } else if (arg == "--proxy") {
            const std::string choice = value();
            if (choice == "auto") {
                o.proxy = ProxyMode::Auto;
            } else if (choice == "off") {
                o.proxy = ProxyMode::Off;
            } else if (!choice.empty() && choice.find_first_of(" /@") == std::string::npos) {
                o.proxy = ProxyMode::Jid; // a component's bare domain, e.g. proxy.example.org
                o.proxy_jid = choice;
            } else {
                cli::usage_error("--proxy: expected auto, off or a proxy's JID (e.g. "
                                 "proxy.example.org), not '" +
                                 choice + "'");
            }
        } else if (send && arg == "--no-direct") {
            o.no_direct = true;
        } else if (arg == "--sic") {
            const std::string mode = value();
            auto parsed = jgather::parse_sic_mode(mode);
            if (!parsed) {
                cli::usage_error("--sic: '" + mode + "' is not auto, 1, 0 or off");
            }
            o.sic = *parsed;
        } else if (arg == "--ipv4") {
            o.only_v4 = true;
        } else if (arg == "--ipv6") {
            o.only_v6 = true;
        } else if (arg == "--s5b-port") {
            o.port = static_cast<std::uint16_t>(cli::parse_unsigned(arg, value(), 1, 65535));
        } else if (arg == "--timeout") {
            o.timeout = std::chrono::milliseconds(cli::parse_unsigned(arg, value(), 1, 86400000));
        } else if (arg == "--format") {
            o.format = value();
            if (o.format != "text" && o.format != "json") {
                cli::usage_error("--format: expected text or json, not '" + o.format + "'");
            }
        } else {
            cli::usage_error("unknown option '" + std::string(arg) + "'");
        }
    });
    cli::XmppFlags::require_full_jid(o.xmpp);
    if (send && (o.peer.empty() || o.peer.find('/') == std::string::npos)) {
        cli::usage_error("--to: the receiver's full JID (user@domain/resource) is required");
    }
    if (o.file.empty()) {
        cli::usage_error(send ? "--file PATH is required" : "--out PATH is required");
    }
    if (o.only_v4 && o.only_v6) {
        cli::usage_error("--ipv4 and --ipv6 exclude each other");
    }
    if (o.no_direct && o.proxy == ProxyMode::Off) {
        cli::usage_error("--no-direct with --proxy off leaves no candidate");
    }
    return o;
}

} // namespace transfer
