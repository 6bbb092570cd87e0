// Test support: connect an XmppConnection and wait for the outcome on a TestLoop.
#pragma once

#include <chrono>
#include <string>

#include <jgather/gloox.hpp>

#include "support/glib_loop.hpp"
#include "support/xmpp_servers.hpp"

namespace jgather::test {

/** The account @p user (password "secret123", as XmppServerOptions::users has it) on @p server,
 * trusting the server's throwaway CA. */
inline xmpp::ConnectOptions account_on(const XmppServer& server,
                                       const std::string& user = "romeo") {
    xmpp::ConnectOptions o;
    o.jid = user + "@" + server.options().domain;
    o.password = "secret123";
    o.host = server.options().ip;
    o.port = server.port();
    o.ca_file = server.ca_file();
    return o;
}

/** Connects and iterates @p loop until connected or refused; returns connected(). */
inline bool connect_and_wait(TestLoop& loop, xmpp::XmppConnection& connection,
                             std::string* why = nullptr) {
    bool done = false;
    std::string reason;
    connection.on_connected = [&] {
        done = true;
    };
    connection.on_disconnected = [&](const xmpp::Disconnect& d) {
        reason = d.message;
        done = true;
    };
    if (!connection.connect()) {
        reason = "connect() refused the options";
        done = true;
    }
    loop.run_until([&] { return done; }, std::chrono::seconds(20));
    // The callbacks capture this frame: unhook them before it goes.
    connection.on_connected = nullptr;
    connection.on_disconnected = nullptr;
    if (why) {
        *why = reason;
    }
    return connection.connected();
}

/** Disconnects and iterates @p loop until on_disconnected has been delivered (it comes from the
 * loop, so a connect() right after a disconnect() would see it). */
inline void disconnect_and_wait(TestLoop& loop, xmpp::XmppConnection& connection) {
    bool done = false;
    connection.on_disconnected = [&](const xmpp::Disconnect&) {
        done = true;
    };
    connection.disconnect();
    loop.run_until([&] { return done; }, std::chrono::seconds(5));
    connection.on_disconnected = nullptr;
}

} // namespace jgather::test
