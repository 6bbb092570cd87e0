// Server IP Check over gloox: disco, query, fallback, validation, one query per connection.
#include <algorithm>
#include <functional>
#include <vector>

#include <gloox/client.h>
#include <gloox/connectionlistener.h>
#include <gloox/disco.h>
#include <gloox/discohandler.h>
#include <gloox/error.h>
#include <gloox/iq.h>
#include <gloox/iqhandler.h>
#include <gloox/stanzaextension.h>
#include <gloox/tag.h>

#include <jgather/sources/sic.hpp>

#include "../util/guard.hpp"
#include "../xmpp/stanza_error.hpp"

namespace jgather {
namespace {

// ProtoXEP 0.0.2 (shared/spec/server-ip-check-0.0.2.xml) and XEP-0279 0.2 namespaces.
constexpr const char* kSic0 = "urn:xmpp:sic:0";
constexpr const char* kSic1 = "urn:xmpp:sic:1";
// A private extension type for gloox's registry (must be above ExtUser).
const int kExtSic = ::gloox::ExtUser + 279;

std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// The query we send (<ip/> or <address/>, empty) and the reply we accept: `<ip>` bare or inside
// `<address>`, `<port>` optional, children in any order, either namespace (interop.md).
class SicPayload final : public ::gloox::StanzaExtension {
public:
    SicPayload() : StanzaExtension(kExtSic) {}
    SicPayload(std::string ns, std::string element)
        : StanzaExtension(kExtSic), ns_(std::move(ns)), element_(std::move(element)) {}
    explicit SicPayload(const ::gloox::Tag* tag) : StanzaExtension(kExtSic) {
        if (!tag) {
            return;
        }
        ns_ = tag->xmlns();
        element_ = tag->name();
        if (element_ == "ip") {
            ip_ = tag->cdata();
            has_ip_ = true;
            return;
        }
        for (const ::gloox::Tag* child : tag->children()) {
            std::string* field = child->name() == "ip"     ? &ip_
                                 : child->name() == "port" ? &port_
                                                           : nullptr;
            bool* seen = child->name() == "ip" ? &has_ip_ : &has_port_;
            if (!field) {
                continue;
            }
            if (*seen) {
                problem_ = "<" + child->name() + "> appears twice in <address>";
            }
            *field = child->cdata();
            *seen = true;
        }
    }

    const std::string& filterString() const override {
        static const std::string filter =
            std::string("/iq/ip[@xmlns='") + kSic0 + "']|/iq/address[@xmlns='" + kSic0 +
            "']|/iq/address[@xmlns='" + kSic1 + "']|/iq/ip[@xmlns='" + kSic1 + "']";
        return filter;
    }
    StanzaExtension* newInstance(const ::gloox::Tag* tag) const override {
        return new SicPayload(tag);
    }
    ::gloox::Tag* tag() const override {
        auto* t = new ::gloox::Tag(element_);
        t->setXmlns(ns_);
        return t;
    }
    StanzaExtension* clone() const override { return new SicPayload(*this); }

    std::string ns_;
    std::string element_;
    std::string ip_;
    std::string port_;
    bool has_ip_ = false;
    bool has_port_ = false;
    std::string problem_;
};

} // namespace

using Outcome = std::function<void(const SicAnswer*, const std::string& error)>;

class SicService::Private final : public ::gloox::IqHandler,
                                  public ::gloox::DiscoHandler,
                                  public ::gloox::ConnectionListener {
public:
    Private(xmpp::XmppConnection& connection, SicMode mode) : connection_(connection), mode_(mode) {
        client().registerStanzaExtension(new SicPayload());
        client().registerConnectionListener(this);
    }
    ~Private() override {
        client().removeConnectionListener(this);
        client().removeIDHandler(this);
        if (client().disco()) {
            client().disco()->removeDiscoHandler(this);
        }
    }
    Private(const Private&) = delete;
    Private& operator=(const Private&) = delete;

    ::gloox::Client& client() { return connection_.client(); }
    std::string domain() { return client().jid().server(); }

    // Calls @p outcome once (possibly right away) unless cancel(id) comes first.
    std::uint64_t request(Outcome outcome) {
        if (mode_ == SicMode::Off) {
            outcome(nullptr, "Server IP Check is off");
            return 0;
        }
        if (!connection_.connected() && !connection_.connecting()) {
            outcome(nullptr, "not connected to the XMPP server");
            return 0;
        }
        if (connection_.connected() && connection_.generation() != generation_) {
            // a new connection: ask again
            state_ = State::Idle;
            answer_.reset();
            generation_ = connection_.generation();
        }
        if (state_ == State::Done) {
            outcome(answer_ ? &*answer_ : nullptr, failure_);
            return 0;
        }
        const std::uint64_t id = ++next_waiter_;
        waiters_.push_back({id, std::move(outcome)});
        // While the connection is still being made, the query waits for it (onConnect), bounded
        // by each gathering's deadline; host candidates never wait for it.
        if (state_ == State::Idle && connection_.connected()) {
            begin();
        }
        return id;
    }

    void cancel(std::uint64_t id) {
        std::erase_if(waiters_, [id](const Waiter& w) { return w.id == id; });
    }

    std::optional<SicAnswer> answer() const {
        return generation_ == connection_.generation() ? answer_ : std::nullopt;
    }
    unsigned queries_sent() const { return queries_; }

    // gloox callbacks: every one is a C-ish entry point, so nothing may throw out of them.
    void handleDiscoInfo(const ::gloox::JID&, const ::gloox::Disco::Info& info,
                         int context) override {
        guarded([&] { disco_info(info, context); });
    }
    void handleDiscoItems(const ::gloox::JID&, const ::gloox::Disco::Items&, int) override {}
    void handleDiscoError(const ::gloox::JID&, const ::gloox::Error* error, int context) override {
        guarded([&] {
            if (context == context_ && state_ == State::Discovering) {
                finish(nullptr, "disco#info on " + domain() + " failed: " + detail::describe_error(error));
            }
        });
    }

    bool handleIq(const ::gloox::IQ&) override { return false; }

    void handleIqID(const ::gloox::IQ& iq, int context) override {
        guarded([&] { reply(iq, context); });
    }

    void onConnect() override {
        guarded([this] {
            if (!waiters_.empty() && state_ == State::Idle) {
                generation_ = connection_.generation();
                answer_.reset();
                begin(); // gatherings were waiting for this connection
            }
        });
    }
    void onDisconnect(::gloox::ConnectionError error) override {
        guarded([&] {
            if (state_ == State::Discovering || state_ == State::Querying) {
                finish(nullptr,
                       "disconnected while waiting for the answer (" + xmpp::describe(error) + ")");
            } else if (!waiters_.empty()) {
                finish(nullptr,
                       "could not connect to the XMPP server (" + xmpp::describe(error) + ")");
            }
            state_ = State::Idle; // the next connection asks again
        });
    }
    bool onTLSConnect(const ::gloox::CertInfo&) override { return true; } // XmppConnection decides

private:
    // gloox calls the handlers above from its parser: nothing may throw back into it.
    template <typename F> void guarded(F&& f) {
        if (auto threw = detail::contain(std::forward<F>(f))) {
            finish(nullptr, "Server IP Check failed: " + *threw);
        }
    }

    void disco_info(const ::gloox::Disco::Info& info, int context) {
        if (context != context_ || state_ != State::Discovering) {
            return;
        }
        if (info.hasFeature(kSic1)) {
            send_query(kSic1, "address");
        } else if (info.hasFeature(kSic0)) {
            send_query(kSic0, "ip");
        } else {
            finish(nullptr, "the server does not advertise " + std::string(kSic1) + " or " + kSic0 +
                                " (disco#info on " + domain() + ")");
        }
    }
    void reply(const ::gloox::IQ& iq, int context) {
        if (context != context_ || state_ != State::Querying) {
            return; // a reply to an earlier query, or after we gave up
        }
        const std::string asked = "<" + element_ + " xmlns='" + ns_ + "'/>";
        // Only our own account (no 'from' = our account, RFC 6120 §8.1.2.1) or our server.
        const ::gloox::JID& from = iq.from();
        const bool trusted =
            !from || from.bare() == client().jid().bare() || from.full() == domain();
        if (!trusted) {
            finish(nullptr, "reply to " + asked + " from '" + from.full() +
                                "' rejected: only our account or " + domain() + " may answer");
            return;
        }
        if (iq.subtype() == ::gloox::IQ::Error) {
            const ::gloox::Error* error = iq.error();
            if (error && error->error() == ::gloox::StanzaErrorBadRequest && ns_ == kSic0 &&
                element_ == "ip") {
                send_query(kSic0, "address"); // ejabberd wants <address/> for sic:0 (interop.md)
                return;
            }
            finish(nullptr, "server answered " + asked + " with " + detail::describe_error(error));
            return;
        }
        const auto* payload = iq.findExtension<SicPayload>(kExtSic);
        if (!payload) {
            finish(nullptr, "reply to " + asked + " has no <ip/> or <address/>");
            return;
        }
        if (!payload->problem_.empty()) {
            finish(nullptr, "reply to " + asked + ": " + payload->problem_);
            return;
        }
        if (!payload->has_ip_) {
            finish(nullptr, "reply to " + asked + " has no <ip>");
            return;
        }
        auto ip = IpAddress::parse(trimmed(payload->ip_));
        if (!ip) {
            finish(nullptr, "reply to " + asked + ": <ip>: " + ip.error().message);
            return;
        }
        // Whether it can be an external address is the gatherer's rule (external_address_problem,
        // with the exception of a local address): it fails this source with the reason.
        SicAnswer answer{ip->unmapped(), std::nullopt, payload->ns_, domain()};
        if (payload->has_port_) {
            const std::string digits = trimmed(payload->port_);
            unsigned value = 0;
            const bool numeric = !digits.empty() && digits.size() <= 5 &&
                                 std::all_of(digits.begin(), digits.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
            if (numeric) {
                value = static_cast<unsigned>(std::stoul(digits));
            }
            if (!numeric || value < 1 || value > 65535) {
                finish(nullptr, "reply to " + asked + ": <port> '" + digits + "' is not 1-65535");
                return;
            }
            answer.port = static_cast<std::uint16_t>(value);
        }
        finish(&answer, {});
    }

    enum class State { Idle, Discovering, Querying, Done };
    struct Waiter {
        std::uint64_t id;
        Outcome outcome;
    };

    void begin() {
        if (mode_ == SicMode::Auto) {
            state_ = State::Discovering;
            client().disco()->getDiscoInfo(::gloox::JID(domain()), "", this, ++context_);
        } else if (mode_ == SicMode::Sic1) {
            send_query(kSic1, "address");
        } else {
            send_query(kSic0, "ip");
        }
    }

    void send_query(const std::string& ns, const std::string& element) {
        state_ = State::Querying;
        ns_ = ns;
        element_ = element;
        ++queries_;
        // No 'to': the query is about ourselves, to our own server (spec §Security).
        ::gloox::IQ iq(::gloox::IQ::Get, ::gloox::JID(), client().getID());
        iq.addExtension(new SicPayload(ns, element));
        client().send(iq, this, ++context_);
    }

    void finish(const SicAnswer* answer, const std::string& failure) {
        state_ = State::Done;
        answer_ = answer ? std::optional<SicAnswer>(*answer) : std::nullopt;
        failure_ = failure;
        auto waiters = std::move(waiters_);
        waiters_.clear();
        for (auto& w : waiters) {
            w.outcome(answer_ ? &*answer_ : nullptr, failure_);
        }
    }

    xmpp::XmppConnection& connection_;
    SicMode mode_;
    State state_ = State::Idle;
    std::uint64_t generation_ = 0;
    std::optional<SicAnswer> answer_;
    std::string failure_;
    std::string ns_;
    std::string element_;
    std::vector<Waiter> waiters_;
    std::uint64_t next_waiter_ = 0;
    int context_ = 0;
    unsigned queries_ = 0;
};

class SicService::Query final : public Source {
public:
    explicit Query(std::weak_ptr<SicService::Private> service) : service_(std::move(service)) {}
    ~Query() override { stop(); }

    std::string name() const override { return "sic"; }

    void start(SourceSink& sink) override {
        auto service = service_.lock();
        if (!service) {
            sink.finish(SourceStatus::failed("the Server IP Check service is gone"));
            return;
        }
        waiter_ = service->request([&sink](const SicAnswer* answer, const std::string& error) {
            if (!answer) {
                sink.finish(SourceStatus::failed(error));
                return;
            }
            const std::string ns = answer->ns == kSic1 ? "sic:1" : "sic:0";
            sink.add_external_address({answer->ip,
                                       answer->port,
                                       std::nullopt,
                                       {"sic", answer->server + " (" + ns + ")"}});
            sink.finish(SourceStatus::ok());
        });
    }

    void stop() override {
        if (auto service = service_.lock(); service && waiter_ != 0) {
            service->cancel(waiter_);
        }
        waiter_ = 0;
    }

private:
    std::weak_ptr<SicService::Private> service_;
    std::uint64_t waiter_ = 0;
};

SicService::SicService(xmpp::XmppConnection& connection, SicMode mode)
    : d_(std::make_shared<Private>(connection, mode)) {}

SicService::~SicService() = default;

std::unique_ptr<Source> SicService::source() {
    return std::make_unique<Query>(d_);
}

std::optional<SicAnswer> SicService::answer() const {
    return d_->answer();
}

unsigned SicService::queries_sent() const {
    return d_->queries_sent();
}

std::optional<SicMode> parse_sic_mode(std::string_view text) {
    if (text == "auto")
        return SicMode::Auto;
    if (text == "1")
        return SicMode::Sic1;
    if (text == "0")
        return SicMode::Sic0;
    if (text == "off")
        return SicMode::Off;
    return std::nullopt;
}

} // namespace jgather
