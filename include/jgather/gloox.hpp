/**
 * @file gloox.hpp
 * @brief Adapter: a gloox::Client driven from a GLib GMainContext, without blocking it.
 *
 * gloox has no main loop of its own; its connections block in connect() and need recv() calls.
 * XmppConnection replaces gloox's TCP connection with one on GIO: the TCP connect is
 * asynchronous, incoming data is read when the socket is readable, outgoing data is queued and
 * written when it is writable. STARTTLS, SASL and resource binding are gloox's own. One of the
 * two headers (with sources/sic.hpp) that expose gloox types.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <glib.h>
#include <gloox/client.h>
#include <gloox/socks5bytestreammanager.h>

#include <jgather/candidate.hpp>
#include <jgather/export.hpp>

namespace jgather::xmpp {

/** @brief How to reach and authenticate with the XMPP server. */
struct ConnectOptions {
    std::string jid;      ///< The account, "user@domain" (a resource is bound by the server).
    std::string password; ///< The account's password.
    std::string host;     ///< Server host or IP to connect to; "" = the JID's domain.
    int port = 5222;      ///< Client-to-server port (RFC 6120 §3.2.1 default).
    /** PEM file of CA certificates that must have signed the server's certificate. */
    std::string ca_file;
    /** Accept any certificate (tests, private servers). Ignored when ca_file is set. */
    bool insecure = false;
    /** Refuse a server that offers no STARTTLS (RFC 6120 §5). Turn off only for a test peer. */
    bool require_tls = true;
    /** Fetch the roster and send initial presence after login, as gloox does by default. Off
     * (the default here): the session stays invisible to contacts and costs no roster fetch. */
    bool announce_presence = false;
    /** Give up connecting (TCP, TLS and authentication) after this long. */
    std::chrono::milliseconds timeout{10000};
};

/** @brief Why a connection ended. */
struct Disconnect {
    ::gloox::ConnectionError error = ::gloox::ConnNoError; ///< gloox's reason.
    std::string message; ///< For a person, e.g. "authentication failed".
};

/**
 * @brief One XMPP client connection on a GMainContext.
 *
 * connect() returns at once; on_connected runs once the session is authenticated and bound,
 * on_disconnected once for each attempt that ends (including a failed connect). Both run from
 * the context, never on gloox's stack, so either may destroy the connection; an exception they
 * throw is caught and logged with g_warning(), never propagated into GLib or gloox. connect() may
 * be called again after a disconnect; each successful connection increments generation(), which
 * per-connection caches (Server IP Check) use to know their answer is stale.
 */
class JGATHER_EXPORT XmppConnection {
public:
    /** A connection whose sources attach to @p context (NULL = the default context). */
    XmppConnection(GMainContext* context, ConnectOptions options);
    ~XmppConnection();
    XmppConnection(const XmppConnection&) = delete;
    XmppConnection& operator=(const XmppConnection&) = delete;

    /** Starts connecting; false (with on_disconnected not called) if the options are unusable. */
    bool connect();
    /** Closes the stream and the socket; on_disconnected runs with ConnUserDisconnected. */
    void disconnect();

    /** True while the session is up (set just before on_connected is queued). */
    [[nodiscard]] bool connected() const;
    /** True while an attempt started by connect() has neither succeeded nor failed. */
    [[nodiscard]] bool connecting() const;
    /** Increments on each successful connection. */
    [[nodiscard]] std::uint64_t generation() const;
    /** The gloox client, for sending stanzas and registering handlers. */
    [[nodiscard]] ::gloox::Client& client();
    /** The context everything runs on. */
    [[nodiscard]] GMainContext* context() const;

    /** Called when the session is ready. */
    std::function<void()> on_connected;
    /** Called when a connection attempt or session ends. */
    std::function<void(const Disconnect&)> on_disconnected;

private:
    class Private;
    std::unique_ptr<Private> d_;
};

/**
 * jgather's SOCKS5 candidates as gloox streamhosts (XEP-0065 §5.3.1), for applications that keep
 * gloox's SOCKS5BytestreamManager: `manager.setStreamHosts(xmpp::streamhosts(result.s5b))`.
 *
 * gloox's StreamHost has no type or priority, so the list is in descending XEP-0260 priority
 * (direct, assisted, tunnel, proxy; equal priorities keep their order) and the order is the
 * preference. ICE candidates are skipped. What gloox's target side then does is gloox's
 * (1.0.24, interop.md). On its own TCP connections it tries the streamhosts one after the other
 * with blocking connects whose timeout is not applied on Linux (≈ 127 s per black-holed
 * address, the whole loop blocked meanwhile) and sends no error when all fail. On an
 * XmppConnection its bytestream connections are GIO ones made by the XMPP connection's
 * newInstance(): connect() does not block, but gloox takes the first streamhost as reached as
 * soon as its connect starts and never tries another (tests/integration/gloox_s5b_test.cpp).
 * Where the peer is jgather (or any XEP-0260 client), s5b::Connector tries them in parallel.
 */
JGATHER_EXPORT ::gloox::StreamHostList streamhosts(const std::vector<Candidate>& candidates);

/** A person's text for gloox's ConnectionError. */
JGATHER_EXPORT std::string describe(::gloox::ConnectionError error);

} // namespace jgather::xmpp
