// Test support: real XMPP servers (prosody, ejabberd) from Debian packages, each run from a
// throwaway directory with its own certificate authority, stopped by PID on destruction.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "netns.hpp"

namespace jgather::test {

/** @brief A directory removed with everything in it on destruction. */
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

/** A TCP port on @p ip that nothing listens on right now (chosen by the OS). */
std::uint16_t free_tcp_port(const std::string& ip = "127.0.0.1");

/** A UDP port on @p ip (IPv4 or IPv6 literal) that nothing uses right now (chosen by the OS). */
std::uint16_t free_udp_port(const std::string& ip = "127.0.0.1");

/** Waits until a TCP connect to ip:port succeeds; false after @p limit. */
bool wait_for_listener(const std::string& ip, std::uint16_t port, std::chrono::milliseconds limit);

/** @brief What a test server is started with. */
struct XmppServerOptions {
    std::string domain = "example.org";
    std::string ip = "127.0.0.1"; ///< Address the c2s listener binds.
    std::string ip6;              ///< Also listen on this IPv6 literal (same port), if set.
    std::uint16_t port = 0;       ///< 0 = a free port chosen by the OS.
    bool sic = true;              ///< Load the Server IP Check module.
    std::vector<std::pair<std::string, std::string>> users = {{"romeo", "secret123"}};
    std::string netns;           ///< Run inside this network namespace ("" = the test's own).
    std::uint16_t stun_port = 0; ///< ejabberd only: also run its STUN listener (UDP) here.
    /** XEP-0215: announce STUN 203.0.113.1:3478/udp, TURN 203.0.113.1:3478 over UDP and TCP
     * with TURN-REST credentials from this secret (expiring after extdisco_ttl), TURNS
     * 203.0.113.1:5349, and a STUN server on 127.0.0.1 (prosody: also one named "localhost").
     * Empty: the module is not loaded. */
    std::string extdisco_secret;
    std::chrono::seconds extdisco_ttl{3600}; ///< Lifetime of the credentials handed out.
    /** prosody only, with extdisco_secret: also a TURN server 203.0.113.5:3478/udp with these
     * static long-term credentials (user name, password), handed out as configured. */
    std::optional<std::pair<std::string, std::string>> extdisco_static_turn;
    /** XEP-0065: run the server's SOCKS5 proxy as proxy.<domain> on this TCP port of ip
     * (0 = none; prosody's mod_proxy65, ejabberd's mod_proxy65). */
    std::uint16_t proxy65_port = 0;
    /** The address the proxy announces; "" = the server's default (prosody: the component's
     * host name; ejabberd: its ip). */
    std::string proxy65_address;
};

/** @brief A running XMPP server; stopped (by PID) on destruction. */
class XmppServer {
public:
    enum class Kind { Prosody, Ejabberd };
    /** Starts it and waits until it accepts connections; throws std::runtime_error if not. */
    XmppServer(Kind kind, XmppServerOptions options = {});
    ~XmppServer();
    XmppServer(const XmppServer&) = delete;
    XmppServer& operator=(const XmppServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return options_.port; }
    [[nodiscard]] const std::string& ca_file() const { return ca_file_; }
    [[nodiscard]] const XmppServerOptions& options() const { return options_; }
    [[nodiscard]] pid_t pid() const { return pid_; }
    /** Stops answering without closing connections (SIGSTOP). */
    void freeze();
    /** Stops the server now (SIGKILL): its connections close. */
    void kill();
    /** The server's log, for failure messages. */
    [[nodiscard]] std::string log() const;

private:
    void make_pki();
    void start_prosody();
    void start_ejabberd();
    void stop();
    [[nodiscard]] std::vector<std::string> in_netns(std::vector<std::string> argv) const;

    Kind kind_;
    XmppServerOptions options_;
    TempDir dir_;
    std::string ca_file_;
    std::string log_file_;
    pid_t pid_ = -1;
};

/** Waits until a STUN server answers a Binding request at ip:port (IPv4 or IPv6 literal) (from the
 * calling thread's namespace); false after @p limit. */
bool wait_for_stun(const std::string& ip, std::uint16_t port, std::chrono::milliseconds limit);

/**
 * @brief coturn, stopped by PID on destruction: a plain STUN server (`--stun-only`), or with
 *        @p turn_secret a TURN server too, checking TURN-REST credentials made from that secret
 *        (`use-auth-secret`, as the XMPP servers' XEP-0215 modules hand them out), relays over
 *        UDP and TCP to the server, on the listening address.
 */
class Coturn {
public:
    Coturn(const std::string& ip, std::uint16_t port, const std::string& netns = "",
           const std::string& turn_secret = "");
    /** What coturn logged (allocations, refusals), for failure messages. */
    [[nodiscard]] std::string log() const;
    ~Coturn();
    Coturn(const Coturn&) = delete;
    Coturn& operator=(const Coturn&) = delete;

private:
    TempDir dir_;
    pid_t pid_ = -1;
};

/** "prosody" or "ejabberd". */
std::string to_string(XmppServer::Kind kind);

/**
 * @brief The NAT lab (netns.hpp) with both servers on its public side at 203.0.113.1, each with
 * its XEP-0065 proxy at that address: prosody on 5222 (proxy65 on kProxyPort), ejabberd on 5223
 * (kProxyPort + 1); accounts romeo and juliet (password secret123). What the file-transfer
 * tests and benchmark run in.
 */
class LabWithProxies {
public:
    /** prosody's proxy65 port; ejabberd's is one above. */
    static constexpr std::uint16_t kProxyPort = 7777;
    /** Builds the lab and starts both servers; throws std::runtime_error if one does not. */
    LabWithProxies();
    /** The lab's namespaces. */
    [[nodiscard]] const NatLab& lab() const { return lab_; }
    /** The server of @p kind. */
    [[nodiscard]] const XmppServer& server(XmppServer::Kind kind) const {
        return kind == XmppServer::Kind::Prosody ? prosody_ : ejabberd_;
    }

private:
    static XmppServerOptions options(const NatLab& lab, std::uint16_t port,
                                     std::uint16_t proxy_port);
    NatLab lab_;
    XmppServer prosody_;
    XmppServer ejabberd_;
};

} // namespace jgather::test
