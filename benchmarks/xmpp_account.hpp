// The XMPP connection the lab benchmarks make before their rounds: romeo on a test server.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <glib.h>

#include <jgather/gloox.hpp>

#include "support/xmpp_servers.hpp"

namespace bench {

/** Connects romeo to @p server from the calling thread's namespace, or exits naming @p program. */
inline std::unique_ptr<jgather::xmpp::XmppConnection>
connect(GMainContext* context, const jgather::test::XmppServer& server, const char* program) {
    jgather::xmpp::ConnectOptions account;
    account.jid = "romeo@example.org";
    account.password = "secret123";
    account.host = server.options().ip;
    account.port = server.port();
    account.ca_file = server.ca_file();
    auto connection = std::make_unique<jgather::xmpp::XmppConnection>(context, account);
    bool done = false;
    connection->on_connected = [&] {
        done = true;
    };
    connection->on_disconnected = [&](const jgather::xmpp::Disconnect& d) {
        std::fprintf(stderr, "%s: cannot connect to the XMPP server: %s\n", program,
                     d.message.c_str());
        std::exit(1);
    };
    if (!connection->connect()) {
        std::exit(1);
    }
    while (!done) {
        g_main_context_iteration(context, TRUE);
    }
    connection->on_connected = nullptr;
    connection->on_disconnected = nullptr;
    return connection;
}

} // namespace bench
