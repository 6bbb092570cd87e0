// XEP-0065 proxy discovery and activation over gloox: disco#items, disco#info, the bytestreams
// query, asynchronous name resolution, one cached answer per connection.
#include <algorithm>
#include <charconv>
#include <map>
#include <utility>
#include <vector>

#include <gloox/client.h>
#include <gloox/connectionlistener.h>
#include <gloox/error.h>
#include <gloox/iq.h>
#include <gloox/iqhandler.h>
#include <gloox/stanzaextension.h>
#include <gloox/tag.h>

#include <jgather/glib.hpp>
#include <jgather/sources/proxy65.hpp>
#include <jgather/xep0065.hpp>

#include "../util/guard.hpp"
#include "../xmpp/stanza_error.hpp"

namespace jgather {
namespace {

const int kExtProxy65 = ::gloox::ExtUser + 65; // private, apart from SIC's and XEP-0215's
const std::string kDiscoItems = "http://jabber.org/protocol/disco#items";
const std::string kDiscoInfo = "http://jabber.org/protocol/disco#info";
const std::string kBytestreams(xep0065::kNamespace);

// A <query/> we send (namespace, optional sid and <activate/>) and the answer we read (kept
// as a Tag).
class QueryPayload final : public ::gloox::StanzaExtension {
public:
    QueryPayload() : StanzaExtension(kExtProxy65) {}
    QueryPayload(std::string ns, std::string sid = {}, std::string activate = {})
        : StanzaExtension(kExtProxy65), ns_(std::move(ns)), sid_(std::move(sid)),
          activate_(std::move(activate)) {}
    explicit QueryPayload(const ::gloox::Tag* tag)
        : StanzaExtension(kExtProxy65), answer_(tag ? tag->clone() : nullptr) {}
    QueryPayload(const QueryPayload& other)
        : StanzaExtension(kExtProxy65), ns_(other.ns_), sid_(other.sid_),
          activate_(other.activate_), answer_(other.answer_ ? other.answer_->clone() : nullptr) {}
    QueryPayload& operator=(const QueryPayload&) = delete;
    ~QueryPayload() override { delete answer_; }

    const std::string& filterString() const override {
        static const std::string filter = "/iq/query[@xmlns='" + kDiscoItems +
                                          "']|/iq/query[@xmlns='" + kDiscoInfo +
                                          "']|/iq/query[@xmlns='" + kBytestreams + "']";
        return filter;
    }
    StanzaExtension* newInstance(const ::gloox::Tag* tag) const override {
        return new QueryPayload(tag);
    }
    ::gloox::Tag* tag() const override {
        auto* t = new ::gloox::Tag("query");
        t->setXmlns(ns_);
        if (!sid_.empty()) {
            t->addAttribute("sid", sid_);
        }
        if (!activate_.empty()) {
            new ::gloox::Tag(t, "activate", activate_);
        }
        return t;
    }
    StanzaExtension* clone() const override { return new QueryPayload(*this); }

    [[nodiscard]] const ::gloox::Tag* answer() const { return answer_; }

private:
    std::string ns_;
    std::string sid_;
    std::string activate_;
    ::gloox::Tag* answer_ = nullptr;
};

// The answer's <query/> in @p ns, or nullptr.
const ::gloox::Tag* query_of(const ::gloox::IQ& iq, const std::string& ns) {
    const auto* payload = iq.findExtension<QueryPayload>(kExtProxy65);
    const ::gloox::Tag* tag = payload ? payload->answer() : nullptr;
    return tag && tag->xmlns() == ns ? tag : nullptr;
}

} // namespace

class Proxy65Service::Private final : public ::gloox::IqHandler,
                                      public ::gloox::ConnectionListener,
                                      public std::enable_shared_from_this<Private> {
public:
    Private(xmpp::XmppConnection& connection, Proxy65Options options)
        : connection_(connection), options_(options), loop_(glib::make_loop(connection.context())),
          resolve_(glib::make_resolver(connection.context())) {
        client().registerStanzaExtension(new QueryPayload());
        client().registerConnectionListener(this);
    }
    ~Private() override {
        for (auto& entry : std::exchange(gone_, {})) {
            (void)detail::contain([&] { entry.second(); });
        }
        cancel_lookups();
        client().removeConnectionListener(this);
        client().removeIDHandler(this);
    }
    Private(const Private&) = delete;
    Private& operator=(const Private&) = delete;

    ::gloox::Client& client() { return connection_.client(); }
    std::string domain() { return client().jid().server(); }

    std::optional<Proxy65Discovery> cached() const {
        if (state_ != State::Done || generation_ != connection_.generation()) {
            return std::nullopt;
        }
        return answer_;
    }

    std::uint64_t request(Callback done) {
        const std::uint64_t id = ++next_id_;
        if (!connection_.connected() && !connection_.connecting()) {
            Proxy65Discovery failed;
            failed.error = "not connected to the XMPP server";
            deliver(id, std::move(done), std::move(failed));
            return id;
        }
        if (connection_.connected() && connection_.generation() != generation_) {
            reset(); // a new connection: ask again
        }
        if (auto answer = cached()) {
            deliver(id, std::move(done), std::move(*answer));
            return id;
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
        activations_.erase(static_cast<int>(id));
    }

    void when_gone(std::uint64_t id, std::function<void()> told) { gone_[id] = std::move(told); }

    void activate(const std::string& proxy_jid, const std::string& sid,
                  const std::string& target_jid, ActivateCallback done) {
        const std::uint64_t id = ++next_id_;
        if (!connection_.connected()) {
            deliver_activation(std::move(done), Error{"not connected to the XMPP server"});
            return;
        }
        const int context = kActivationBase + static_cast<int>(id % 1000000);
        auto& pending = activations_[context];
        pending.done = std::move(done);
        pending.proxy = proxy_jid;
        pending.timer = loop_->call_after(options_.timeout, [this, context] {
            finish_activation(context, Error{"no answer to the activation within " +
                                             std::to_string(options_.timeout.count()) + " ms"});
        });
        // XEP-0065 §6.3.3: <query sid='...'><activate>target</activate></query>, type set.
        ::gloox::IQ iq(::gloox::IQ::Set, ::gloox::JID(proxy_jid), client().getID());
        iq.addExtension(new QueryPayload(kBytestreams, sid, target_jid));
        client().send(iq, this, context);
    }

    bool handleIq(const ::gloox::IQ&) override { return false; }
    void handleIqID(const ::gloox::IQ& iq, int context) override {
        guarded([&] {
            if (context >= kActivationBase) {
                activation_reply(iq, context);
            } else {
                reply(iq, context);
            }
        });
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
            if (state_ == State::Running || !waiters_.empty()) {
                fail("disconnected before the proxies were known (" + xmpp::describe(error) + ")");
            }
            state_ = State::Idle;
            for (auto& [context, pending] : std::exchange(activations_, {})) {
                deliver_activation(std::move(pending.done),
                                   Error{"disconnected before the proxy answered (" +
                                         xmpp::describe(error) + ")"});
            }
        });
    }
    bool onTLSConnect(const ::gloox::CertInfo&) override { return true; }

    void resolved(const std::string& host, std::vector<IpAddress> found, const std::string& error) {
        auto lookup = lookups_.find(host);
        if (lookup == lookups_.end()) {
            return;
        }
        auto handle = std::move(lookup->second); // dies after this call, not inside it
        lookups_.erase(lookup);
        for (Proxy65& proxy : unresolved_) {
            if (proxy.host != host) {
                continue;
            }
            if (found.empty()) {
                answer_.problems.push_back(proxy.jid + ": host name '" + host +
                                           "' did not resolve" +
                                           (error.empty() ? "" : ": " + error));
            } else {
                proxy.addresses = found;
                answer_.proxies.push_back(proxy);
            }
        }
        std::erase_if(unresolved_, [&](const Proxy65& p) { return p.host == host; });
        maybe_done();
    }

private:
    enum class State { Idle, Running, Done };
    static constexpr int kItems = 1;
    static constexpr int kActivationBase = 1 << 24; // contexts above: activations
    struct Activation {
        ActivateCallback done;
        std::string proxy;
        std::unique_ptr<LoopHandle> timer;
    };

    template <typename F> void guarded(F&& f) {
        if (auto threw = detail::contain(std::forward<F>(f))) {
            fail("proxy discovery failed: " + *threw);
        }
    }

    void reset() {
        cancel_lookups();
        state_ = State::Idle;
        answer_ = {};
        pending_.clear();
        unresolved_.clear();
        generation_ = connection_.generation();
    }

    void begin() {
        reset();
        state_ = State::Running;
        answer_.server = domain();
        ++round_; // answers to an earlier round are ignored
        timeout_ =
            loop_->call_after(options_.timeout, [this] { guarded([this] { timed_out(); }); });
        if (options_.proxies.empty()) {
            send_query(::gloox::JID(domain()), kDiscoItems, "items of " + domain());
            return;
        }
        for (const std::string& jid : options_.proxies) { // chosen: no disco#items, no #info
            send_query(::gloox::JID(jid), kBytestreams, "bytestreams query");
        }
    }

    // Contexts: round * 4096 + slot; slot 1 = items, 2.. = per item steps.
    void send_query(const ::gloox::JID& to, const std::string& ns, std::string what) {
        const int slot = next_slot_++;
        const int context = (round_ % 4096) * 4096 + (slot % 4096);
        pending_[context] = std::move(what);
        ::gloox::IQ iq(::gloox::IQ::Get, to, client().getID());
        iq.addExtension(new QueryPayload(ns));
        client().send(iq, this, context);
    }

    void reply(const ::gloox::IQ& iq, int context) {
        auto it = pending_.find(context);
        if (state_ != State::Running || it == pending_.end()) {
            return; // an earlier round's, or after the timeout
        }
        const std::string what = it->second;
        pending_.erase(it);
        const std::string from = iq.from().full();
        if (iq.subtype() == ::gloox::IQ::Error) {
            if (what.rfind("items of ", 0) == 0) {
                fail("disco#items of " + domain() +
                     " refused: " + detail::describe_error(iq.error()));
                return;
            }
            answer_.problems.push_back(from + ": " + what +
                                       " refused: " + detail::describe_error(iq.error()));
        } else if (const auto* items = query_of(iq, kDiscoItems)) {
            for (const ::gloox::Tag* item : items->findChildren("item")) {
                const std::string jid = item->findAttribute("jid");
                if (!jid.empty()) {
                    send_query(::gloox::JID(jid), kDiscoInfo, "disco#info");
                }
            }
        } else if (const auto* info = query_of(iq, kDiscoInfo)) {
            const auto identities = info->findChildren("identity");
            const bool proxy = std::any_of(identities.begin(), identities.end(), [](auto* id) {
                // XEP-0065 §4: category "proxy", type "bytestreams".
                return id->findAttribute("category") == "proxy" &&
                       id->findAttribute("type") == "bytestreams";
            });
            if (proxy) {
                send_query(iq.from(), kBytestreams, "bytestreams query");
            }
        } else if (const auto* query = query_of(iq, kBytestreams)) {
            read_streamhosts(from, *query);
        } else {
            answer_.problems.push_back(from + ": " + what + " answered without a <query/>");
        }
        maybe_done();
    }

    void read_streamhosts(const std::string& from, const ::gloox::Tag& query) {
        const auto hosts = query.findChildren("streamhost");
        if (hosts.empty()) {
            answer_.problems.push_back(from + ": its bytestreams answer has no <streamhost/>");
        }
        for (const ::gloox::Tag* host : hosts) {
            Proxy65 proxy;
            proxy.jid = host->findAttribute("jid");
            proxy.host = host->findAttribute("host");
            const std::string port = host->findAttribute("port");
            unsigned value = 0;
            const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
            if (proxy.jid.empty() || proxy.host.empty()) {
                answer_.problems.push_back(from + ": streamhost without 'jid' or 'host'");
                continue;
            }
            if (port.empty()) {
                value = xep0065::kDefaultPort; // XEP-0065 §5.3.1
            } else if (ec != std::errc() || end != port.data() + port.size() || value == 0 ||
                       value > 65535) {
                answer_.problems.push_back(from + ": streamhost attribute 'port': '" + port +
                                           "' is not a port");
                continue;
            }
            proxy.port = static_cast<std::uint16_t>(value);
            if (auto ip = IpAddress::parse(proxy.host)) {
                proxy.addresses = {ip->unmapped()};
                answer_.proxies.push_back(std::move(proxy));
            } else {
                // prosody without proxy65_address announces its host name.
                if (!lookups_.count(proxy.host)) {
                    start_lookup(proxy.host);
                }
                unresolved_.push_back(std::move(proxy));
            }
        }
    }

    void maybe_done() {
        if (state_ == State::Running && pending_.empty() && lookups_.empty()) {
            finish();
        }
    }

    void timed_out() {
        if (state_ != State::Running) {
            return;
        }
        const std::string limit = std::to_string(options_.timeout.count()) + " ms";
        for (const auto& [context, what] : pending_) {
            answer_.problems.push_back(what + ": no answer within " + limit);
        }
        for (const Proxy65& proxy : unresolved_) {
            answer_.problems.push_back(proxy.jid + ": host name '" + proxy.host +
                                       "' not resolved within " + limit);
        }
        pending_.clear();
        unresolved_.clear();
        cancel_lookups();
        finish();
    }

    void fail(std::string why) {
        answer_.error = std::move(why);
        pending_.clear();
        unresolved_.clear();
        cancel_lookups();
        finish();
    }

    void finish() {
        timeout_.reset();
        state_ = State::Done;
        for (auto& [id, done] : std::exchange(waiters_, {})) {
            deliver(id, std::move(done), answer_);
            gone_.erase(id);
        }
    }

    void deliver(std::uint64_t id, Callback done, Proxy65Discovery answer) {
        deliveries_[id] = loop_->call_after(
            std::chrono::milliseconds(0),
            [weak = weak_from_this(), id, done = std::move(done), answer = std::move(answer)] {
                if (auto self = weak.lock()) {
                    auto mine = std::move(self->deliveries_[id]);
                    self->deliveries_.erase(id);
                    self->gone_.erase(id); // answered: nothing to tell when the service goes
                    (void)detail::contain([&] { done(answer); });
                }
            });
    }

    void activation_reply(const ::gloox::IQ& iq, int context) {
        if (iq.subtype() == ::gloox::IQ::Error) {
            finish_activation(context, Error{"the proxy refused the activation: " +
                                             detail::describe_error(iq.error())});
        } else {
            finish_activation(context, Result<void>{});
        }
    }

    void finish_activation(int context, Result<void> result) {
        auto it = activations_.find(context);
        if (it == activations_.end()) {
            return;
        }
        ActivateCallback done = std::move(it->second.done);
        activations_.erase(it); // its timer too, also from inside the timer
        deliver_activation(std::move(done), std::move(result));
    }

    void deliver_activation(ActivateCallback done, Result<void> result) {
        const std::uint64_t id = ++next_id_;
        deliveries_[id] = loop_->call_after(
            std::chrono::milliseconds(0),
            [weak = weak_from_this(), id, done = std::move(done), result = std::move(result)] {
                if (auto self = weak.lock()) {
                    auto mine = std::move(self->deliveries_[id]);
                    self->deliveries_.erase(id);
                    (void)detail::contain([&] { done(result); });
                }
            });
    }

    // GResolver through glib::make_resolver(): the answer comes from the connection's context,
    // and dropping the handle cancels the lookup.
    void start_lookup(const std::string& host) {
        lookups_[host] = resolve_(
            host, [weak = weak_from_this(), host](std::vector<IpAddress> found, std::string error) {
                if (auto self = weak.lock()) {
                    self->guarded([&] { self->resolved(host, std::move(found), error); });
                }
            });
    }

    void cancel_lookups() { lookups_.clear(); }

    xmpp::XmppConnection& connection_;
    Proxy65Options options_;
    std::unique_ptr<EventLoop> loop_;
    State state_ = State::Idle;
    std::uint64_t generation_ = 0;
    int round_ = 0;
    int next_slot_ = kItems;
    std::map<int, std::string> pending_; // context -> what was asked
    std::vector<Proxy65> unresolved_;
    s5b::Resolver resolve_;
    std::map<std::string, std::unique_ptr<LoopHandle>> lookups_; // host -> its lookup
    Proxy65Discovery answer_;
    std::unique_ptr<LoopHandle> timeout_;
    std::uint64_t next_id_ = 0;
    std::vector<std::pair<std::uint64_t, Callback>> waiters_;
    std::map<std::uint64_t, std::unique_ptr<LoopHandle>> deliveries_;
    std::map<std::uint64_t, std::function<void()>> gone_;
    std::map<int, Activation> activations_;
};

class Proxy65Service::ProxySource final : public Source {
    static constexpr const char* kGone = "the proxy discovery was destroyed before it answered";

public:
    explicit ProxySource(std::weak_ptr<Proxy65Service::Private> service)
        : service_(std::move(service)) {}
    ~ProxySource() override { stop(); }

    std::string name() const override { return "proxy65"; }

    void start(SourceSink& sink) override {
        auto service = service_.lock();
        if (!service) {
            sink.finish(SourceStatus::failed(kGone));
            return;
        }
        waiter_ = service->request([this, &sink](const Proxy65Discovery& found) {
            waiter_ = 0;
            gone_.reset();
            if (!found.error.empty()) {
                sink.finish(SourceStatus::failed(found.error));
                return;
            }
            std::string detail;
            for (const std::string& problem : found.problems) {
                detail += (detail.empty() ? "" : "; ") + problem;
            }
            if (found.proxies.empty()) {
                detail = found.server + " offers no usable proxy" +
                         (detail.empty() ? std::string() : " (" + detail + ")");
            }
            for (const Proxy65& proxy : found.proxies) {
                for (const IpAddress& ip : proxy.addresses) {
                    sink.add_proxy(
                        ProxyFinding{proxy.jid, {ip, proxy.port}, {"proxy65", proxy.jid}});
                }
            }
            sink.finish(SourceStatus::ok(std::move(detail)));
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
    }

private:
    std::weak_ptr<Proxy65Service::Private> service_;
    std::uint64_t waiter_ = 0;
    std::unique_ptr<LoopHandle> gone_;
};

Proxy65Service::Proxy65Service(xmpp::XmppConnection& connection, Proxy65Options options)
    : d_(std::make_shared<Private>(connection, options)) {}

Proxy65Service::~Proxy65Service() = default;

std::optional<Proxy65Discovery> Proxy65Service::cached() const {
    return d_->cached();
}

std::uint64_t Proxy65Service::request(Callback done) {
    return d_->request(std::move(done));
}

void Proxy65Service::cancel(std::uint64_t id) {
    d_->cancel(id);
}

std::unique_ptr<Source> Proxy65Service::source() {
    return std::make_unique<ProxySource>(d_);
}

void Proxy65Service::activate(const std::string& proxy_jid, const std::string& sid,
                              const std::string& target_jid, ActivateCallback done) {
    d_->activate(proxy_jid, sid, target_jid, std::move(done));
}

} // namespace jgather
