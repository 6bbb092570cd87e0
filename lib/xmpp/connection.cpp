// gloox on GLib: a gloox::ConnectionBase over GIO sockets, and the XmppConnection around it.
#include <deque>
#include <memory>
#include <string>

#include <gio/gio.h>
#include <gloox/connectionbase.h>
#include <gloox/connectionlistener.h>
#include <gloox/presence.h>
#include <gloox/tlsdefault.h>

#include <jgather/gloox.hpp>

#include "../util/guard.hpp"

namespace jgather::xmpp {
namespace {

// Owns a GObject reference.
template <typename T> struct GObjectDeleter {
    void operator()(T* object) const { g_object_unref(object); }
};
template <typename T> using GObjectPtr = std::unique_ptr<T, GObjectDeleter<T>>;

// Owns an attached GSource; destroying it detaches it.
struct SourceDeleter {
    void operator()(GSource* source) const {
        g_source_destroy(source);
        g_source_unref(source);
    }
};
using SourcePtr = std::unique_ptr<GSource, SourceDeleter>;

// A TCP connection for gloox on the caller's GMainContext: nothing here ever blocks.
class GioConnection final : public ::gloox::ConnectionBase {
public:
    GioConnection(::gloox::ConnectionDataHandler* handler, GMainContext* context,
                  const std::string& host, int port)
        : ConnectionBase(handler), context_(context) {
        setServer(host, port);
    }
    ~GioConnection() override { close(); }

    ::gloox::ConnectionError connect() override {
        if (m_state != ::gloox::StateDisconnected) {
            return ::gloox::ConnNoError;
        }
        m_state = ::gloox::StateConnecting;
        cancellable_.reset(g_cancellable_new());
        GObjectPtr<GSocketClient> client(g_socket_client_new());
        // GIO delivers an async result on the thread-default context at call time.
        g_main_context_push_thread_default(context_);
        g_socket_client_connect_to_host_async(
            client.get(), m_server.c_str(), static_cast<guint16>(m_port), cancellable_.get(),
            &GioConnection::on_connected, new std::weak_ptr<GioConnection*>(alive_));
        g_main_context_pop_thread_default(context_);
        return ::gloox::ConnNoError;
    }

    ::gloox::ConnectionError recv(int) override { return ::gloox::ConnNoError; }
    ::gloox::ConnectionError receive() override { return ::gloox::ConnNoError; }

    bool send(const std::string& data) override {
        if (m_state != ::gloox::StateConnected || !socket_) {
            return false;
        }
        outgoing_ += data;
        flush();
        return true;
    }

    void disconnect() override { close(); }
    void cleanup() override { close(); }
    void getStatistics(long int& in, long int& out) override {
        in = static_cast<long int>(bytes_in_);
        out = static_cast<long int>(bytes_out_);
    }
    ConnectionBase* newInstance() const override {
        return new GioConnection(m_handler, context_, m_server, m_port);
    }

private:
    // The GIO entry points: each contains whatever gloox or a handler behind it throws.
    static void on_connected(GObject* source, GAsyncResult* result, gpointer data) {
        if (auto threw = detail::contain([&] { connected(source, result, data); })) {
            g_critical("jgather: XMPP connect callback threw: %s", threw->c_str());
        }
    }
    static gboolean on_readable(GSocket* socket, GIOCondition condition, gpointer data) {
        gboolean keep = G_SOURCE_CONTINUE;
        if (auto threw = detail::contain([&] { keep = readable(socket, condition, data); })) {
            g_critical("jgather: XMPP read callback threw: %s", threw->c_str());
        }
        return keep;
    }
    static gboolean on_writable(GSocket* socket, GIOCondition condition, gpointer data) {
        gboolean keep = G_SOURCE_CONTINUE;
        if (auto threw = detail::contain([&] { keep = writable(socket, condition, data); })) {
            g_critical("jgather: XMPP write callback threw: %s", threw->c_str());
        }
        return keep;
    }

    static void connected(GObject* source, GAsyncResult* result, gpointer data) {
        std::unique_ptr<std::weak_ptr<GioConnection*>> token(
            static_cast<std::weak_ptr<GioConnection*>*>(data));
        GError* error = nullptr;
        GObjectPtr<GSocketConnection> connection(
            g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(source), result, &error));
        const auto alive = token->lock();
        if (!alive) { // the connection went away meanwhile (its cancellable fired)
            g_clear_error(&error);
            return;
        }
        GioConnection* self = *alive;
        if (!connection) {
            const bool refused = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
            const bool unresolved = error && error->domain == G_RESOLVER_ERROR;
            g_clear_error(&error);
            self->close();
            self->m_handler->handleDisconnect(self, refused      ? ::gloox::ConnConnectionRefused
                                                    : unresolved ? ::gloox::ConnDnsError
                                                                 : ::gloox::ConnIoError);
            return;
        }
        self->connection_ = std::move(connection);
        self->socket_ = g_socket_connection_get_socket(self->connection_.get());
        g_socket_set_blocking(self->socket_, FALSE);
        self->reader_.reset(g_socket_create_source(
            self->socket_, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), nullptr));
        g_source_set_callback(self->reader_.get(),
                              reinterpret_cast<GSourceFunc>(
                                  reinterpret_cast<void (*)()>(&GioConnection::on_readable)),
                              self, nullptr);
        g_source_attach(self->reader_.get(), self->context_);
        self->m_state = ::gloox::StateConnected;
        self->m_handler->handleConnect(self);
    }

    static gboolean readable(GSocket*, GIOCondition, gpointer data) {
        auto* self = static_cast<GioConnection*>(data);
        const std::weak_ptr<GioConnection*> alive = self->alive_;
        char buffer[16384];
        for (;;) {
            GError* error = nullptr;
            const gssize got =
                g_socket_receive(self->socket_, buffer, sizeof buffer, nullptr, &error);
            if (got > 0) {
                self->bytes_in_ += static_cast<std::size_t>(got);
                self->m_handler->handleReceivedData(
                    self, std::string(buffer, static_cast<std::size_t>(got)));
                if (alive.expired() || !self->socket_) {
                    return G_SOURCE_REMOVE; // gloox closed or destroyed us from the handler
                }
                continue;
            }
            const bool would_block = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
            g_clear_error(&error);
            if (would_block) {
                return G_SOURCE_CONTINUE;
            }
            // 0 = the server closed the stream; < 0 = a socket error.
            g_source_unref(self->reader_.release()); // REMOVE destroys it; drop our reference
            self->close();
            self->m_handler->handleDisconnect(self, got == 0 ? ::gloox::ConnStreamClosed
                                                             : ::gloox::ConnIoError);
            return G_SOURCE_REMOVE;
        }
    }

    static gboolean writable(GSocket*, GIOCondition, gpointer data) {
        auto* self = static_cast<GioConnection*>(data);
        self->flush();
        if (self->outgoing_.empty()) {
            g_source_unref(self->writer_.release()); // REMOVE destroys it; drop our reference
            return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
    }

    void flush() {
        while (!outgoing_.empty() && socket_) {
            GError* error = nullptr;
            const gssize sent =
                g_socket_send(socket_, outgoing_.data(), outgoing_.size(), nullptr, &error);
            if (sent > 0) {
                bytes_out_ += static_cast<std::size_t>(sent);
                outgoing_.erase(0, static_cast<std::size_t>(sent));
                continue;
            }
            const bool would_block = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
            g_clear_error(&error);
            if (would_block) {
                if (!writer_) {
                    writer_.reset(g_socket_create_source(socket_, G_IO_OUT, nullptr));
                    g_source_set_callback(
                        writer_.get(),
                        reinterpret_cast<GSourceFunc>(
                            reinterpret_cast<void (*)()>(&GioConnection::on_writable)),
                        this, nullptr);
                    g_source_attach(writer_.get(), context_);
                }
                return;
            }
            // A write error: the read side sees the failure and reports the disconnect.
            outgoing_.clear();
            return;
        }
    }

    void close() {
        if (cancellable_) {
            g_cancellable_cancel(cancellable_.get());
            cancellable_.reset();
        }
        reader_.reset();
        writer_.reset();
        if (connection_) {
            g_io_stream_close(G_IO_STREAM(connection_.get()), nullptr, nullptr);
        }
        connection_.reset();
        socket_ = nullptr;
        outgoing_.clear();
        m_state = ::gloox::StateDisconnected;
    }

    GMainContext* context_;
    std::shared_ptr<GioConnection*> alive_ = std::make_shared<GioConnection*>(this);
    GObjectPtr<GCancellable> cancellable_;
    GObjectPtr<GSocketConnection> connection_;
    GSocket* socket_ = nullptr; // owned by connection_
    SourcePtr reader_;
    SourcePtr writer_;
    std::string outgoing_;
    std::size_t bytes_in_ = 0;
    std::size_t bytes_out_ = 0;
};

} // namespace

class XmppConnection::Private final : public ::gloox::ConnectionListener {
public:
    Private(XmppConnection& owner, GMainContext* context, ConnectOptions options)
        : owner_(owner), context_(g_main_context_ref(context ? context : g_main_context_default())),
          options_(std::move(options)), client_(::gloox::JID(options_.jid), options_.password) {
        const std::string host = options_.host.empty() ? client_.jid().server() : options_.host;
        // gloox checks the certificate against its "server"; our connection dials `host`.
        client_.setServer(client_.jid().server());
        client_.setPort(options_.port);
        client_.setConnectionImpl(new GioConnection(&client_, context_, host, options_.port));
        client_.registerConnectionListener(this);
        client_.setTls(options_.require_tls ? ::gloox::TLSRequired : ::gloox::TLSOptional);
        if (!options_.announce_presence) {
            // gloox's documented way: no roster manager, and Unavailable before connecting
            // suppresses the initial presence.
            client_.disableRoster();
            client_.setPresence(::gloox::Presence::Unavailable, 0);
        }
        // gloox 1.0's default encryption ignores setCACerts() (GnuTLSClient::init drops the
        // list), so we own the TLS object and hand it the CA file before every connection
        // (its cleanup() after a disconnect forgets it again).
        tls_ = new ::gloox::TLSDefault(&client_, client_.jid().server());
        tls_->init();
        client_.setEncryptionImpl(tls_);
    }
    ~Private() override {
        alive_.reset();
        deliverer_.reset();
        pending_.clear();
        timeout_.reset();
        client_.removeConnectionListener(this);
        client_.disconnect();
        g_main_context_unref(context_);
    }

    bool connect() {
        if (!client_.jid() || client_.jid().server().empty() || options_.password.empty()) {
            return false;
        }
        if (client_.state() != ::gloox::StateDisconnected) {
            return true;
        }
        failure_ = ::gloox::ConnNoError;
        if (!options_.ca_file.empty()) {
            tls_->setCACerts({options_.ca_file});
        }
        timeout_.reset(g_timeout_source_new(static_cast<guint>(options_.timeout.count())));
        g_source_set_callback(
            timeout_.get(),
            [](gpointer data) -> gboolean {
                auto* self = static_cast<Private*>(data);
                g_source_unref(self->timeout_.release()); // REMOVE destroys it; drop our reference
                if (auto threw = detail::contain([self] {
                        if (!self->connected_) {
                            self->failure_ = ::gloox::ConnIoError;
                            self->timed_out_ = true;
                            self->client_.disconnect();
                        }
                    })) {
                    g_critical("jgather: XMPP timeout callback threw: %s", threw->c_str());
                }
                return G_SOURCE_REMOVE;
            },
            this, nullptr);
        g_source_attach(timeout_.get(), context_);
        timed_out_ = false;
        return client_.connect(false);
    }

    void onConnect() override {
        timeout_.reset();
        connected_ = true;
        ++generation_;
        defer([this] {
            // Through a copy: a callback that destroys the connection keeps its captures.
            if (auto callback = owner_.on_connected) {
                callback();
            }
        });
    }

    void onDisconnect(::gloox::ConnectionError error) override {
        timeout_.reset();
        connected_ = false;
        Disconnect why;
        why.error = error;
        if (error == ::gloox::ConnAuthenticationFailed) {
            why.message = "authentication failed";
        } else if (timed_out_) {
            why.message = "no session within " + std::to_string(options_.timeout.count()) + " ms";
        } else if (error == ::gloox::ConnTlsFailed && tls_rejected_) {
            why.message = "server certificate rejected (" + tls_problem_ + ")";
        } else {
            why.message = describe(error);
        }
        defer([this, why] {
            if (auto callback = owner_.on_disconnected) {
                callback(why);
            }
        });
    }

    // The application's callbacks never run on gloox's stack: they are queued and delivered
    // from the context, so that they may destroy the connection.
    void defer(std::function<void()> callback) {
        pending_.push_back(std::move(callback));
        if (!deliverer_) {
            deliverer_.reset(g_idle_source_new());
            g_source_set_callback(
                deliverer_.get(),
                [](gpointer data) -> gboolean {
                    static_cast<Private*>(data)->deliver();
                    return G_SOURCE_REMOVE;
                },
                this, nullptr);
            g_source_attach(deliverer_.get(), context_);
        }
    }

    void deliver() {
        g_source_unref(deliverer_.release()); // REMOVE destroys it; drop our reference
        const std::weak_ptr<bool> alive = alive_;
        while (!pending_.empty()) {
            const auto callback = std::move(pending_.front());
            pending_.pop_front();
            if (auto threw = detail::contain(callback)) {
                g_warning("jgather: an XmppConnection callback threw: %s", threw->c_str());
            }
            if (alive.expired()) {
                return;
            }
        }
    }

    bool onTLSConnect(const ::gloox::CertInfo& info) override {
        const bool insecure = options_.ca_file.empty() && options_.insecure;
        tls_rejected_ = !insecure && info.status != ::gloox::CertOk;
        if (tls_rejected_) {
            tls_problem_ = "status flags " + std::to_string(info.status) + ", issuer '" +
                           info.issuer + "', subject '" + info.server + "'";
        }
        return !tls_rejected_;
    }

    XmppConnection& owner_;
    GMainContext* context_;
    ConnectOptions options_;
    ::gloox::Client client_;
    ::gloox::TLSDefault* tls_ = nullptr; // owned by client_
    SourcePtr timeout_;
    SourcePtr deliverer_;
    std::deque<std::function<void()>> pending_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bool connected_ = false;
    bool timed_out_ = false;
    bool tls_rejected_ = false;
    std::string tls_problem_;
    ::gloox::ConnectionError failure_ = ::gloox::ConnNoError;
    std::uint64_t generation_ = 0;
};

XmppConnection::XmppConnection(GMainContext* context, ConnectOptions options)
    : d_(std::make_unique<Private>(*this, context, std::move(options))) {}

XmppConnection::~XmppConnection() = default;

bool XmppConnection::connect() {
    return d_->connect();
}

void XmppConnection::disconnect() {
    d_->client_.disconnect();
}

bool XmppConnection::connected() const {
    return d_->connected_;
}

bool XmppConnection::connecting() const {
    return !d_->connected_ && d_->client_.state() != ::gloox::StateDisconnected;
}

std::uint64_t XmppConnection::generation() const {
    return d_->generation_;
}

::gloox::Client& XmppConnection::client() {
    return d_->client_;
}

GMainContext* XmppConnection::context() const {
    return d_->context_;
}

std::string describe(::gloox::ConnectionError error) {
    switch (error) {
    case ::gloox::ConnNoError:
        return "no error";
    case ::gloox::ConnStreamError:
        return "stream error";
    case ::gloox::ConnStreamVersionError:
        return "unsupported stream version";
    case ::gloox::ConnStreamClosed:
        return "the server closed the stream";
    case ::gloox::ConnIoError:
        return "I/O error";
    case ::gloox::ConnParseError:
        return "XML parse error";
    case ::gloox::ConnConnectionRefused:
        return "connection refused";
    case ::gloox::ConnDnsError:
        return "cannot resolve the server's name";
    case ::gloox::ConnOutOfMemory:
        return "out of memory";
    case ::gloox::ConnNoSupportedAuth:
        return "no supported authentication mechanism";
    case ::gloox::ConnTlsFailed:
        return "TLS failed";
    case ::gloox::ConnTlsNotAvailable:
        return "the server offers no TLS";
    case ::gloox::ConnCompressionFailed:
        return "compression failed";
    case ::gloox::ConnAuthenticationFailed:
        return "authentication failed";
    case ::gloox::ConnUserDisconnected:
        return "disconnected by the user";
    case ::gloox::ConnNotConnected:
        return "not connected";
    default:
        return "connection error " + std::to_string(static_cast<int>(error));
    }
}

} // namespace jgather::xmpp
