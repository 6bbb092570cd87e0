// Test support: connect an XmppConnection and wait for the outcome on a TestLoop.
#pragma once

#include <chrono>
#include <string>

#include <jgather/gloox.hpp>

#include "support/glib_loop.hpp"

namespace jgather::test {

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
