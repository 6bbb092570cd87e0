// XEP-0215 External Service Discovery over gloox: the query and its fallback, credentials,
// asynchronous name resolution, validation, and one cached answer per connection.
#include <algorithm>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include <gio/gio.h>
#include <gloox/client.h>
#include <gloox/connectionlistener.h>
#include <gloox/error.h>
#include <gloox/iq.h>
#include <gloox/iqhandler.h>
#include <gloox/stanzaextension.h>
#include <gloox/tag.h>

#include <jgather/glib.hpp>
#include <jgather/sources/extdisco.hpp>

#include "../util/guard.hpp"
#include "../xmpp/extdisco.hpp"
#include "../xmpp/stanza_error.hpp"

namespace jgather {
namespace {

// A private extension type for gloox's registry (above ExtUser, apart from SIC's 279).
const int kExtExtdisco = ::gloox::ExtUser + 215;

// What a credentials request names of a service: XEP-0215 §3.2 type and host, and the port;
// never the transport (ejabberd 23.01 filters on it wrongly, interop.md).
struct ServiceKey {
    ServiceType type;
    std::string host;
    std::uint16_t port;
    bool operator==(const ServiceKey&) const = default;
};

ServiceKey key_of(const ExternalService& s) {
    return {s.type, s.host, s.port};
}

// The query we send (<services/> or <credentials/> with its <service/> keys) and the answer we
// read (either element in either namespace, kept as a Tag for detail::read_services).
class ExtdiscoPayload final : public ::gloox::StanzaExtension {
public:
    ExtdiscoPayload() : StanzaExtension(kExtExtdisco) {}
    ExtdiscoPayload(std::string element, std::string ns, std::vector<ServiceKey> keys = {})
        : StanzaExtension(kExtExtdisco), element_(std::move(element)), ns_(std::move(ns)),
          keys_(std::move(keys)) {}
    explicit ExtdiscoPayload(const ::gloox::Tag* tag)
        : StanzaExtension(kExtExtdisco), answer_(tag ? tag->clone() : nullptr) {}
    ExtdiscoPayload(const ExtdiscoPayload& other)
        : StanzaExtension(kExtExtdisco), element_(other.element_), ns_(other.ns_),
          keys_(other.keys_), answer_(other.answer_ ? other.answer_->clone() : nullptr) {}
    ExtdiscoPayload& operator=(const ExtdiscoPayload&) = delete;
    ~ExtdiscoPayload() override { delete answer_; }

    const std::string& filterString() const override {
        static const std::string filter = [] {
            std::string f;
            for (const char* element : {"services", "credentials"}) {
                for (const char* ns : {detail::kExtdisco2, detail::kExtdisco1}) {
                    f += std::string(f.empty() ? "" : "|") + "/iq/" + element + "[@xmlns='" + ns +
                         "']";
                }
            }
            return f;
        }();
        return filter;
    }
    StanzaExtension* newInstance(const ::gloox::Tag* tag) const override {
        return new ExtdiscoPayload(tag);
    }
    ::gloox::Tag* tag() const override {
        auto* t = new ::gloox::Tag(element_);
        t->setXmlns(ns_);
        for (const ServiceKey& key : keys_) {
            auto* service = new ::gloox::Tag(t, "service");
            service->addAttribute("type", std::string(to_string(key.type)));
            service->addAttribute("host", key.host);
            service->addAttribute("port", std::to_string(key.port));
        }
        return t;
    }
    StanzaExtension* clone() const override { return new ExtdiscoPayload(*this); }

    [[nodiscard]] const ::gloox::Tag* answer() const { return answer_; }

private:
    std::string element_;
    std::string ns_;
    std::vector<ServiceKey> keys_;
    ::gloox::Tag* answer_ = nullptr;
};

// Conditions that mean "not this namespace" rather than "not for you" (RFC 6120 §8.3.3).
bool namespace_unknown(const ::gloox::Error* error) {
    if (error == nullptr) {
        return false;
    }
    switch (error->error()) {
    case ::gloox::StanzaErrorFeatureNotImplemented:
    case ::gloox::StanzaErrorServiceUnavailable:
    case ::gloox::StanzaErrorBadRequest:
    case ::gloox::StanzaErrorItemNotFound:
        return true;
    default:
        return false;
    }
}

struct GObjectUnref {
    void operator()(gpointer object) const noexcept { g_object_unref(object); }
};

} // namespace

class ExtdiscoService::Private final : public ::gloox::IqHandler,
                                       public ::gloox::ConnectionListener,
                                       public std::enable_shared_from_this<Private> {
public:
    Private(xmpp::XmppConnection& connection, ExtdiscoOptions options)
        : connection_(connection), options_(options), loop_(glib::make_loop(connection.context())) {
        client().registerStanzaExtension(new ExtdiscoPayload());
        client().registerConnectionListener(this);
    }
    ~Private() override {
        // A source still waiting is told (it finishes from its own loop handle), so that its
        // gathering does not wait for its deadline for an answer that cannot come.
        for (auto& entry : std::exchange(gone_, {})) {
            detail::contain([&] { entry.second(); });
        }
        cancel_lookups();
        client().removeConnectionListener(this);
        client().removeIDHandler(this);
    }
    Private(const Private&) = delete;
    Private& operator=(const Private&) = delete;

    ::gloox::Client& client() { return connection_.client(); }
    std::string domain() { return client().jid().server(); }

    std::optional<ExternalServices> cached() const {
        if (state_ != State::Done || generation_ != connection_.generation() || !fresh()) {
            return std::nullopt;
        }
        ExternalServices answer = answer_;
        answer.round_trips = 0;
        return answer;
    }

    std::uint64_t request(Callback done) {
        const std::uint64_t id = ++next_id_;
        if (!connection_.connected() && !connection_.connecting()) {
            ExternalServices failed;
            failed.error = "not connected to the XMPP server";
            deliver(id, std::move(done), std::move(failed));
            return id;
        }
        if (connection_.connected() && connection_.generation() != generation_) {
            reset(); // a new connection: its server may announce other services
        }
        if (auto answer = cached()) {
            deliver(id, std::move(done), std::move(*answer));
            return id;
        }
        if (state_ == State::Done) {
            state_ = State::Idle; // stale: credentials about to expire
        }
        waiters_.emplace_back(id, std::move(done));
        if (state_ == State::Idle && connection_.connected()) {
            begin();
        }
        return id;
    }

    void cancel(std::uint64_t id) {
        std::erase_if(waiters_, [id](const auto& w) { return w.first == id; });
        deliveries_.erase(id);
        gone_.erase(id);
    }

    // For the sources handed out: @p told runs (once) if the service is destroyed before
    // request @p id was answered.
    void when_gone(std::uint64_t id, std::function<void()> told) { gone_[id] = std::move(told); }

    unsigned queries_sent() const { return queries_; }

    // gloox entry points: nothing may throw back into its parser.
    bool handleIq(const ::gloox::IQ&) override { return false; }
    void handleIqID(const ::gloox::IQ& iq, int context) override {
        guarded([&] { reply(iq, context); });
    }
    void onConnect() override {
        guarded([this] {
            if (!waiters_.empty() && state_ == State::Idle) {
                reset();
                begin();
            }
        });
    }
    void onDisconnect(::gloox::ConnectionError error) override {
        guarded([&] {
            if (state_ != State::Idle && state_ != State::Done) {
                fail("disconnected before the services were known (" + xmpp::describe(error) + ")");
            } else if (!waiters_.empty()) {
                fail("could not connect to the XMPP server (" + xmpp::describe(error) + ")");
            }
            state_ = State::Idle; // the next connection asks again
        });
    }
    bool onTLSConnect(const ::gloox::CertInfo&) override { return true; }

    // From GResolver, on the connection's context.
    void resolved(const std::string& host, GList* addresses, const GError* error) {
        auto lookup = lookups_.find(host);
        if (lookup == lookups_.end()) {
            return;
        }
        lookups_.erase(lookup);
        std::vector<IpAddress> good;
        std::string refused;
        for (GList* i = addresses; i != nullptr; i = i->next) {
            gchar* text = g_inet_address_to_string(G_INET_ADDRESS(i->data));
            auto ip = IpAddress::parse(text);
            g_free(text);
            if (!ip) {
                continue;
            }
            if (auto problem = detail::target_problem(ip->unmapped())) {
                refused = *problem;
                continue;
            }
            if (std::find(good.begin(), good.end(), ip->unmapped()) == good.end()) {
                good.push_back(ip->unmapped());
            }
        }
        for (ExternalService& s : services_) {
            if (s.host != host || !s.usable() || !s.addresses.empty()) {
                continue;
            }
            s.addresses = good;
            if (error != nullptr) {
                s.problem = "host name '" + host + "' did not resolve: " + error->message;
            } else if (good.empty()) {
                s.problem = "host name '" + host + "' resolved to no usable address" +
                            (refused.empty() ? std::string() : " (" + refused + ")");
            }
        }
        if (lookups_.empty() && state_ == State::Resolving) {
            finish({});
        }
    }

private:
    enum class State { Idle, Querying, Credentials, Resolving, Done };

    template <typename F> void guarded(F&& f) {
        if (auto threw = detail::contain(std::forward<F>(f))) {
            fail("external service discovery failed: " + *threw);
        }
    }

    bool fresh() const { return !fresh_until_ || std::chrono::steady_clock::now() < *fresh_until_; }

    void reset() {
        cancel_lookups();
        state_ = State::Idle;
        answer_ = {};
        services_.clear();
        generation_ = connection_.generation();
    }

    void begin() {
        services_.clear();
        round_trips_ = 0;
        ns_ = detail::kExtdisco2;
        generation_ = connection_.generation();
        timeout_ =
            loop_->call_after(options_.timeout, [this] { guarded([this] { timed_out(); }); });
        send_services();
    }

    void send(::gloox::StanzaExtension* payload) {
        ++queries_;
        ++round_trips_;
        // XEP-0215 §3.1: to the server's domain (both servers refuse a query without 'to').
        ::gloox::IQ iq(::gloox::IQ::Get, ::gloox::JID(domain()), client().getID());
        iq.addExtension(payload);
        client().send(iq, this, ++context_);
    }

    void send_services() {
        state_ = State::Querying;
        send(new ExtdiscoPayload("services", ns_));
    }

    std::string asked() const {
        return "<" + std::string(state_ == State::Credentials ? "credentials" : "services") +
               " xmlns='" + ns_ + "'/>";
    }

    void reply(const ::gloox::IQ& iq, int context) {
        if (context != context_ || (state_ != State::Querying && state_ != State::Credentials)) {
            return; // an answer to an earlier query, or after we gave up
        }
        // Only the server domain (or our own account: no 'from') speaks for the server.
        const ::gloox::JID& from = iq.from();
        if (from && from.full() != domain() && from.bare() != client().jid().bare()) {
            fail("reply to " + asked() + " from '" + from.full() + "' rejected: only " + domain() +
                 " may answer");
            return;
        }
        const auto* payload = iq.findExtension<ExtdiscoPayload>(kExtExtdisco);
        if (state_ == State::Querying) {
            services_reply(iq, payload);
        } else {
            credentials_reply(iq, payload);
        }
    }

    void services_reply(const ::gloox::IQ& iq, const ExtdiscoPayload* payload) {
        if (iq.subtype() == ::gloox::IQ::Error) {
            if (ns_ == detail::kExtdisco2 && namespace_unknown(iq.error())) {
                ns_ = detail::kExtdisco1; // a server of XEP-0215 before 0.7
                send_services();
                return;
            }
            fail(domain() + " answered " + asked() + " with " + detail::describe_error(iq.error()));
            return;
        }
        if (payload == nullptr || payload->answer() == nullptr) {
            fail("the reply to " + asked() + " has no <services/>");
            return;
        }
        auto services = detail::read_services(*payload->answer(), std::chrono::system_clock::now());
        if (!services) {
            fail("the reply to " + asked() + ": " + services.error().message);
            return;
        }
        services_ = std::move(*services);
        for (ExternalService& s : services_) {
            check_kind(s);
        }
        std::vector<ServiceKey> wanted;
        for (const ExternalService& s : services_) {
            if (s.usable() && s.restricted && (s.username.empty() || s.password.empty())) {
                wanted.push_back(key_of(s));
            }
        }
        if (wanted.empty()) {
            resolve();
            return;
        }
        state_ = State::Credentials;
        send(new ExtdiscoPayload("credentials", ns_, std::move(wanted)));
    }

    void credentials_reply(const ::gloox::IQ& iq, const ExtdiscoPayload* payload) {
        std::string why;
        std::vector<ExternalService> given;
        if (iq.subtype() == ::gloox::IQ::Error) {
            why = "the <credentials/> request was answered with " +
                  detail::describe_error(iq.error());
        } else if (payload == nullptr || payload->answer() == nullptr) {
            why = "the reply to the <credentials/> request has no <credentials/>";
        } else if (auto read = detail::read_services(*payload->answer(),
                                                     std::chrono::system_clock::now())) {
            given = std::move(*read);
        } else {
            why = "the reply to the <credentials/> request: " + read.error().message;
        }
        for (ExternalService& s : services_) {
            if (!s.usable() || !s.restricted || (!s.username.empty() && !s.password.empty())) {
                continue;
            }
            const auto match = std::find_if(given.begin(), given.end(), [&](const auto& g) {
                return g.usable() && key_of(g) == key_of(s) && !g.username.empty() &&
                       !g.password.empty();
            });
            if (match == given.end()) {
                s.problem = why.empty() ? "restricted, and the server gave no credentials for it"
                                        : "restricted: " + why;
                continue;
            }
            s.username = match->username;
            s.password = match->password;
            if (match->expires) {
                s.expires = match->expires;
            }
        }
        resolve();
    }

    // What nobody here can use, said once for all consumers.
    static void check_kind(ExternalService& s) {
        if (!s.usable()) {
            return;
        }
        if (s.type == ServiceType::Stuns || s.type == ServiceType::Turns) {
            s.problem = "unsupported: " + std::string(to_string(s.type)) +
                        " needs TLS to the server, which neither jgather's STUN nor libnice's "
                        "TURN (RFC 5245 mode) speaks";
        } else if (s.type == ServiceType::Stun && s.transport != "udp") {
            s.problem = "unsupported: STUN over " + s.transport + " (candidates are UDP)";
        } else if (s.type == ServiceType::Turn && !s.restricted &&
                   (s.username.empty() || s.password.empty())) {
            s.problem = "a TURN server without a username and password: no allocation can be "
                        "made (RFC 8656 §5 needs long-term credentials)";
        }
    }

    void resolve() {
        state_ = State::Resolving;
        for (const ExternalService& s : services_) {
            if (!s.usable() || !s.addresses.empty() || lookups_.contains(s.host)) {
                continue;
            }
            start_lookup(s.host);
        }
        if (lookups_.empty()) {
            finish({});
        }
    }

    struct Lookup {
        std::weak_ptr<Private> owner;
        std::string host;
    };

    void start_lookup(const std::string& host) {
        std::unique_ptr<GCancellable, GObjectUnref> cancellable(g_cancellable_new());
        GCancellable* raw = cancellable.get();
        lookups_.emplace(host, std::move(cancellable));
        std::unique_ptr<GResolver, GObjectUnref> resolver(g_resolver_get_default());
        // The callback runs on the thread-default context at the time of the call: ours.
        g_main_context_push_thread_default(connection_.context());
        g_resolver_lookup_by_name_async(resolver.get(), host.c_str(), raw, &Private::on_lookup,
                                        new Lookup{weak_from_this(), host});
        g_main_context_pop_thread_default(connection_.context());
    }

    static void on_lookup(GObject* resolver, GAsyncResult* result, gpointer data) {
        std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(data));
        GError* error = nullptr;
        GList* addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(resolver), result, &error);
        const bool cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        if (auto owner = lookup->owner.lock(); owner && !cancelled) {
            if (auto threw =
                    detail::contain([&] { owner->resolved(lookup->host, addresses, error); })) {
                g_warning("jgather: external service discovery threw: %s", threw->c_str());
            }
        }
        g_resolver_free_addresses(addresses);
        if (error != nullptr) {
            g_error_free(error);
        }
    }

    void cancel_lookups() {
        for (auto& [host, cancellable] : lookups_) {
            g_cancellable_cancel(cancellable.get());
        }
        lookups_.clear();
    }

    void timed_out() {
        const std::string limit = std::to_string(options_.timeout.count()) + " ms";
        if (state_ == State::Querying) {
            fail("no answer to " + asked() + " from " + domain() + " within " + limit);
            return;
        }
        if (state_ == State::Credentials) {
            for (ExternalService& s : services_) {
                if (s.usable() && s.restricted && (s.username.empty() || s.password.empty())) {
                    s.problem =
                        "restricted: no answer to the <credentials/> request within " + limit;
                }
            }
            ++context_; // a late answer is not ours any more
            resolve();
            return;
        }
        if (state_ == State::Resolving) {
            for (ExternalService& s : services_) {
                if (s.usable() && s.addresses.empty()) {
                    s.problem = "host name '" + s.host + "' did not resolve within " + limit;
                }
            }
            cancel_lookups();
            finish({});
        }
    }

    void fail(const std::string& why) { finish(why); }

    void finish(const std::string& error) {
        timeout_.reset();
        cancel_lookups();
        state_ = State::Done;
        answer_ = ExternalServices{services_, domain(), ns_, error, round_trips_};
        // Fresh until the first credentials come near their expiry (or for the connection).
        fresh_until_.reset();
        const auto now_wall = std::chrono::system_clock::now();
        const auto now = std::chrono::steady_clock::now();
        for (const ExternalService& s : services_) {
            if (!s.expires || !s.usable()) {
                continue;
            }
            const auto until =
                now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          *s.expires - now_wall - options_.refresh_before);
            fresh_until_ = fresh_until_ ? std::min(*fresh_until_, until) : until;
        }
        for (auto& [id, done] : std::exchange(waiters_, {})) {
            deliver(id, std::move(done), answer_);
        }
    }

    // Callbacks run from the loop, never on gloox's or GResolver's stack nor inside request().
    void deliver(std::uint64_t id, Callback done, ExternalServices answer) {
        deliveries_[id] =
            loop_->call_after(std::chrono::milliseconds(0), [this, id, done = std::move(done),
                                                             answer = std::move(answer)]() mutable {
                // Everything out of the closure before the handle that owns it goes.
                std::shared_ptr<Private> self = shared_from_this(); // the callback may drop it
                Callback callback = std::move(done);
                const ExternalServices found = std::move(answer);
                const std::uint64_t mine = id;
                self->gone_.erase(mine);
                self->deliveries_.erase(mine);
                if (auto threw = detail::contain([&] { callback(found); })) {
                    g_warning("jgather: an external services callback threw: %s", threw->c_str());
                }
            });
    }

    xmpp::XmppConnection& connection_;
    ExtdiscoOptions options_;
    std::unique_ptr<EventLoop> loop_;
    State state_ = State::Idle;
    std::uint64_t generation_ = 0;
    std::string ns_ = detail::kExtdisco2;
    std::vector<ExternalService> services_;
    ExternalServices answer_;
    std::optional<std::chrono::steady_clock::time_point> fresh_until_;
    std::vector<std::pair<std::uint64_t, Callback>> waiters_;
    std::map<std::uint64_t, std::unique_ptr<LoopHandle>> deliveries_;
    std::map<std::uint64_t, std::function<void()>> gone_;
    std::map<std::string, std::unique_ptr<GCancellable, GObjectUnref>> lookups_;
    std::unique_ptr<LoopHandle> timeout_;
    std::uint64_t next_id_ = 0;
    int context_ = 0;
    unsigned queries_ = 0;
    unsigned round_trips_ = 0;
};

class ExtdiscoService::Stun final : public Source {
    static constexpr const char* kGone =
        "the external service discovery was destroyed before it answered";

public:
    Stun(std::weak_ptr<ExtdiscoService::Private> service, StunOptions options)
        : service_(std::move(service)), options_(std::move(options)) {}
    ~Stun() override { stop(); }

    std::string name() const override { return "stun"; }

    void start(SourceSink& sink) override {
        auto service = service_.lock();
        if (!service) {
            sink.finish(SourceStatus::failed(kGone));
            return;
        }
        waiter_ = service->request([this, &sink](const ExternalServices& found) {
            waiter_ = 0;
            gone_.reset();
            StunOptions options = options_;
            for (const TransportAddress& server : found.stun_servers()) {
                if (std::find(options.servers.begin(), options.servers.end(), server) ==
                    options.servers.end()) {
                    options.servers.push_back(server);
                }
            }
            if (options.servers.empty()) {
                sink.finish(SourceStatus::failed(
                    "no STUN server: " +
                    (found.error.empty()
                         ? found.server + " announced no usable STUN server over UDP"
                         : found.error)));
                return;
            }
            inner_ = std::make_unique<StunSource>(std::move(options));
            inner_->start(sink);
        });
        service->when_gone(waiter_, [this, &sink] {
            waiter_ = 0;
            gone_ = sink.loop().call_after(std::chrono::milliseconds(0),
                                           [&sink] { sink.finish(SourceStatus::failed(kGone)); });
        });
    }

    void stop() override {
        if (auto service = service_.lock(); service && waiter_ != 0) {
            service->cancel(waiter_);
        }
        waiter_ = 0;
        gone_.reset();
        if (inner_) {
            inner_->stop();
        }
    }

private:
    std::weak_ptr<ExtdiscoService::Private> service_;
    StunOptions options_;
    std::uint64_t waiter_ = 0;
    std::unique_ptr<LoopHandle> gone_; // finishes the source when the service went first
    std::unique_ptr<StunSource> inner_;
};

ExtdiscoService::ExtdiscoService(xmpp::XmppConnection& connection, ExtdiscoOptions options)
    : d_(std::make_shared<Private>(connection, options)) {}

ExtdiscoService::~ExtdiscoService() = default;

std::optional<ExternalServices> ExtdiscoService::cached() const {
    return d_->cached();
}

std::uint64_t ExtdiscoService::request(Callback done) {
    return d_->request(std::move(done));
}

void ExtdiscoService::cancel(std::uint64_t id) {
    d_->cancel(id);
}

std::unique_ptr<Source> ExtdiscoService::stun_source(StunOptions options) {
    return std::make_unique<Stun>(d_, std::move(options));
}

unsigned ExtdiscoService::queries_sent() const {
    return d_->queries_sent();
}

} // namespace jgather
