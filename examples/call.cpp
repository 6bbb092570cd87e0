// jgather-call: sets up a real call between two XMPP accounts. It logs in (gloox on GLib),
// gathers through a libnice NiceAgent with jgather, runs a Jingle session (XEP-0166) with a
// minimal XEP-0167 RTP description and jgather's XEP-0176 transport, trickles candidates both
// ways, lets libnice connect, then sends datagrams both ways and reports.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <glib.h>
#include <gloox/error.h>
#include <gloox/jinglesession.h>
#include <gloox/jinglesessionhandler.h>
#include <gloox/jinglesessionmanager.h>

#include <jgather/glib.hpp>
#include <jgather/gloox.hpp>
#include <jgather/jgather.hpp>
#include <jgather/jingle.hpp>
#include <jgather/nice.hpp>
#include <jgather/sources/extdisco.hpp>
#include <jgather/sources/external.hpp>
#include <jgather/sources/sic.hpp>

#include "cli.hpp"

namespace {

constexpr std::string_view kUsageHead =
    R"(usage: jgather-call --jid FULLJID --password PW (--call PEER_FULL_JID | --answer) [options]

Sets up a call: XMPP login, a Jingle session (XEP-0166, XEP-0167 audio, XEP-0176 ICE-UDP with
trickle), libnice connectivity checks on jgather's candidates, then --count datagrams each way.
Progress goes to stderr; the report to stdout. Exit 0 when connected and at least one datagram
arrived each way, 1 otherwise, 2 on a usage error.

)";

constexpr std::string_view kUsageTail =
    R"(  --call PEER_FULL_JID  initiate a session with this peer
  --answer              accept the first incoming session
  --stun IP[:PORT]      libnice's STUN server (port 3478 by default)
  --sic auto|1|0|off    Server IP Check namespace (default auto)
  --external-ip IP      a known external address (derives a srflx per host base)
  --ipv4 / --ipv6       only IPv4 / only IPv6 local addresses
  --count N             datagrams each way once connected (default 100)
  --timeout MS          the whole run (default 15000)
  --format text|json    the report (default text)
  --help                this text

Relays and the XMPP server's services (XEP-0215):
)";

// A minimal XEP-0167 description: audio, PCMU (RFC 3551 static payload type 0).
constexpr const char* kRtpNamespace = "urn:xmpp:jingle:apps:rtp:1";
constexpr const char* kContentName = "audio";
// Datagrams go out this far apart once connected: 100 take one second.
constexpr auto kSendInterval = std::chrono::milliseconds(10);
// After the last send, wait this long for the peer's last datagrams.
constexpr auto kLinger = std::chrono::milliseconds(1000);

struct Options {
    jgather::xmpp::ConnectOptions xmpp;
    std::string peer;
    bool answer = false;
    std::optional<jgather::TransportAddress> stun;
    jgather::SicMode sic = jgather::SicMode::Auto;
    std::optional<jgather::IpAddress> external_ip;
    bool only_v4 = false;
    bool only_v6 = false;
    unsigned count = 100;
    std::chrono::milliseconds timeout{15000};
    std::string format = "text";
    cli::RelayFlags relay;
    std::vector<jgather::TurnServer> turn;
};

Options parse_args(int argc, char** argv) {
    Options o;
    cli::for_each_flag(argc, argv, [&](std::string_view arg, const auto& value) {
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsageHead << cli::XmppFlags::kUsage << kUsageTail
                      << cli::RelayFlags::kUsage;
            std::exit(0);
        } else if (cli::XmppFlags::parse(arg, value, o.xmpp)) {
            // --jid, --password, --xmpp-*
        } else if (arg == "--call") {
            o.peer = value();
        } else if (arg == "--answer") {
            o.answer = true;
        } else if (arg == "--stun") {
            auto server = jgather::TransportAddress::parse(value(), 3478);
            if (!server) {
                cli::usage_error("--stun: " + server.error().message);
            }
            o.stun = *server;
        } else if (arg == "--sic") {
            const std::string mode = value();
            auto parsed = jgather::parse_sic_mode(mode);
            if (!parsed) {
                cli::usage_error("--sic: '" + mode + "' is not auto, 1, 0 or off");
            }
            o.sic = *parsed;
        } else if (arg == "--external-ip") {
            const std::string text = value();
            auto ip = jgather::IpAddress::parse(text);
            if (!ip) {
                cli::usage_error("--external-ip: '" + text + "' is not an IP address");
            }
            o.external_ip = *ip;
        } else if (arg == "--ipv4") {
            o.only_v4 = true;
        } else if (arg == "--ipv6") {
            o.only_v6 = true;
        } else if (arg == "--count") {
            o.count = cli::parse_unsigned(arg, value(), 1, 100000);
        } else if (arg == "--timeout") {
            o.timeout = std::chrono::milliseconds(cli::parse_unsigned(arg, value(), 1, 3600000));
        } else if (arg == "--format") {
            o.format = value();
            if (o.format != "text" && o.format != "json") {
                cli::usage_error("--format: expected text or json, not '" + o.format + "'");
            }
        } else if (o.relay.parse(arg, value)) {
            // --extdisco, --turn*, --relay-only
        } else {
            cli::usage_error("unknown option '" + std::string(arg) + "'");
        }
    });
    o.turn = o.relay.servers();
    cli::XmppFlags::require_full_jid(o.xmpp);
    if (o.peer.empty() == !o.answer) {
        cli::usage_error("exactly one of --call PEER_FULL_JID and --answer");
    }
    if (!o.peer.empty() && o.peer.find('/') == std::string::npos) {
        cli::usage_error("--call: a full JID (user@domain/resource)");
    }
    if (o.only_v4 && o.only_v6) {
        cli::usage_error("--ipv4 and --ipv6 exclude each other");
    }
    return o;
}

struct Endpoint {
    std::string type;
    std::string ip;
    unsigned port = 0;
    std::string source;
};

Endpoint endpoint_of(const jgather::Candidate& c) {
    return {std::string(to_string(c.ice()->type)), c.host, c.port, c.origin.source};
}

std::optional<Endpoint> endpoint_of(const NiceCandidate* c) {
    if (c == nullptr) {
        return std::nullopt;
    }
    auto converted = jgather::nice::from_nice(*c);
    if (!converted) {
        return std::nullopt;
    }
    return Endpoint{std::string(to_string(converted->ice()->type)), converted->host,
                    converted->port, ""};
}

std::string json_endpoint(const Endpoint& e, bool with_source) {
    std::string out = "{\"type\": " + cli::json_string(e.type) +
                      ", \"ip\": " + cli::json_string(e.ip) +
                      ", \"port\": " + std::to_string(e.port);
    if (with_source) {
        out += ", \"source\": " + cli::json_string(e.source);
    }
    return out + "}";
}

// One call: the XMPP session, the agent and jgather's gathering on it, the Jingle session.
class Call final : public gloox::Jingle::SessionHandler {
public:
    Call(Options options, GMainLoop* main_loop)
        : options_(std::move(options)), main_loop_(main_loop),
          loop_(jgather::glib::make_loop(nullptr)), connection_(nullptr, options_.xmpp),
          sic_(connection_, options_.sic), extdisco_(connection_),
          sessions_(&connection_.client(), this) {
        sessions_.registerPlugin(new gloox::Jingle::Content());
        sessions_.registerPlugin(new jgather::jingle::IceUdpTransport());
        sessions_.registerPlugin(new jgather::jingle::ElementPlugin(
            std::string("content/description[@xmlns='") + kRtpNamespace + "']"));
        description_.setXmlns(kRtpNamespace);
        description_.addAttribute("media", "audio");
        auto* pcmu = new gloox::Tag(&description_, "payload-type");
        pcmu->addAttribute("id", "0");
        pcmu->addAttribute("name", "PCMU");
        pcmu->addAttribute("clockrate", "8000");
    }

    ~Call() override {
        if (agent_) {
            nice_agent_attach_recv(agent_, stream_, 1, nullptr, nullptr, nullptr);
            g_signal_handlers_disconnect_by_data(agent_, this);
        }
        gatherer_.reset();
        if (agent_) {
            cli::close_agent(agent_, g_main_context_default());
        }
        if (timeout_ != 0) {
            g_source_remove(timeout_);
        }
        if (sender_ != 0) {
            g_source_remove(sender_);
        }
        if (linger_ != 0) {
            g_source_remove(linger_);
        }
        if (flush_ != 0) {
            g_source_remove(flush_);
        }
        connection_.on_connected = nullptr;
        connection_.on_disconnected = nullptr;
        connection_.disconnect();
    }

    void run() {
        start_ = std::chrono::steady_clock::now();
        timeout_ = g_timeout_add(static_cast<guint>(options_.timeout.count()), on_timeout, this);
        connection_.on_connected = [this] {
            log("xmpp: connected as " + connection_.client().jid().full());
            if (!options_.relay.extdisco) {
                connected();
                return;
            }
            // The services first, so that libnice gets the announced STUN server (it takes it
            // before it gathers) and the TURN servers with their credentials.
            extdisco_.request([this](const jgather::ExternalServices& found) {
                std::string text = cli::describe(found, "");
                text.pop_back(); // log() ends the line
                log("xmpp: " + text);
                services_ = found;
                connected();
            });
        };
        connection_.on_disconnected = [this](const jgather::xmpp::Disconnect& d) {
            if (state_.empty()) {
                finish("failed", "xmpp: " + d.message);
            }
        };
        if (!connection_.connect()) {
            finish("failed", "xmpp: cannot connect as '" + options_.xmpp.jid + "'");
        }
    }

    void connected() {
        if (!options_.answer) {
            initiate();
        } else {
            log("waiting for a session");
        }
    }

    /** True once the call has ended (its state is known). */
    [[nodiscard]] bool ended() const { return !state_.empty(); }

    [[nodiscard]] int exit_code() const {
        return state_ == "connected" && sent_ > 0 && received_ > 0 ? 0 : 1;
    }

    void report() const {
        std::optional<Endpoint> local;
        std::optional<Endpoint> remote;
        if (agent_ && connected_) {
            NiceCandidate* l = nullptr;
            NiceCandidate* r = nullptr;
            if (nice_agent_get_selected_pair(agent_, stream_, 1, &l, &r)) {
                local = endpoint_of(l);
                remote = endpoint_of(r);
            }
        }
        if (options_.format == "json") {
            std::ostringstream out;
            out << "{\n  \"state\": " << cli::json_string(state_)
                << ",\n  \"error\": " << (error_.empty() ? "null" : cli::json_string(error_))
                << ",\n  \"connect_ms\": "
                << (connected_ ? std::to_string(cli::ms(connect_time_)) : "null")
                << ",\n  \"gathering_ms\": "
                << (gathering_done_ ? std::to_string(cli::ms(gathering_time_)) : "null")
                << ",\n  \"selected\": ";
            if (local && remote) {
                out << "{\"local\": " << json_endpoint(*local, false)
                    << ", \"remote\": " << json_endpoint(*remote, false) << "}";
            } else {
                out << "null";
            }
            out << ",\n  \"sent\": " << sent_ << ",\n  \"received\": " << received_
                << ",\n  \"external_services\": " << cli::json(services_);
            for (const auto& [name, list] : {std::pair{"local_candidates", &local_},
                                             std::pair{"remote_candidates", &remote_}}) {
                out << ",\n  \"" << name << "\": [";
                for (std::size_t i = 0; i < list->size(); ++i) {
                    out << (i ? ",\n    " : "\n    ") << json_endpoint((*list)[i], true);
                }
                out << (list->empty() ? "]" : "\n  ]");
            }
            out << "\n}\n";
            std::cout << out.str();
            return;
        }
        std::cout << "state: " << state_ << (error_.empty() ? "" : " (" + error_ + ")") << "\n";
        if (connected_) {
            std::cout << "connected after " << cli::ms(connect_time_) << " ms\n";
        }
        if (local && remote) {
            std::cout << "selected pair: " << local->type << " " << local->ip << ":" << local->port
                      << " -> " << remote->type << " " << remote->ip << ":" << remote->port << "\n";
        }
        std::cout << "datagrams: sent " << sent_ << ", received " << received_ << "\n";
        if (services_) {
            std::cout << cli::describe(*services_, "");
        }
    }

    // gloox::Jingle::SessionHandler — on gloox's stack, inside the XMPP connection's read.
    void handleSessionAction(gloox::Jingle::Action action, gloox::Jingle::Session* session,
                             const gloox::Jingle::Session::Jingle* jingle) override {
        using gloox::Jingle::Action;
        if (session != session_ &&
            !(options_.answer && session_ == nullptr && action == gloox::Jingle::SessionInitiate)) {
            return; // another session, or one we did not accept
        }
        switch (action) {
        case gloox::Jingle::SessionInitiate:
            session_ = session;
            log("session-initiate from " + session->initiator().full());
            session_start_ = std::chrono::steady_clock::now();
            if (!start_agent(false)) {
                return;
            }
            apply(jingle);
            break;
        case gloox::Jingle::SessionAccept:
            log("session-accept");
            apply(jingle);
            break;
        case gloox::Jingle::TransportInfo:
            apply(jingle);
            break;
        case gloox::Jingle::SessionTerminate:
            log("session-terminate from the peer");
            terminated_by_peer_ = true;
            if (!connected_) {
                finish("failed", "the peer ended the session before ICE connected");
            }
            break;
        default:
            break;
        }
    }
    void handleSessionActionError(gloox::Jingle::Action, gloox::Jingle::Session*,
                                  const gloox::Error* error) override {
        finish("failed", "the peer refused a Jingle request" + cli::describe(error));
    }
    void handleIncomingSession(gloox::Jingle::Session*) override {}

private:
    void log(const std::string& what) const {
        const auto since = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start_);
        std::fprintf(stderr, "[%8.3f ms] %s\n", cli::ms(since), what.c_str());
    }

    void initiate() {
        session_ = sessions_.createSession(gloox::JID(options_.peer), this);
        if (session_ == nullptr) {
            finish("failed", "cannot create a Jingle session with " + options_.peer);
            return;
        }
        session_start_ = std::chrono::steady_clock::now();
        start_agent(true);
    }

    bool start_agent(bool controlling) {
        agent_ = nice_agent_new_full(g_main_context_default(), NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_ICE_TRICKLE);
        g_object_set(agent_, "controlling-mode", gboolean(controlling), nullptr);
        stream_ = nice_agent_add_stream(agent_, 1);
        nice_agent_attach_recv(agent_, stream_, 1, g_main_context_default(), on_datagram, this);
        g_signal_connect(agent_, "component-state-changed", G_CALLBACK(on_state), this);
        remote_side_.emplace(agent_, stream_);

        jgather::GatherOptions gather;
        gather.host.ipv4 = !options_.only_v6;
        gather.host.ipv6 = !options_.only_v4;
        gather.deadline = std::chrono::milliseconds(3000);
        gather.relay_only = options_.relay.relay_only;
        gatherer_ = std::make_unique<jgather::Gatherer>(*loop_, gather);
        jgather::nice::AgentOptions agent_options;
        agent_options.stun_server = options_.stun;
        agent_options.relays = options_.turn;
        if (options_.relay.extdisco) {
            agent_options.services = &extdisco_;
        }
        if (auto attached = jgather::nice::attach(*gatherer_, agent_, stream_, agent_options);
            !attached) {
            finish("failed", attached.error().message);
            return false;
        }
        if (options_.sic != jgather::SicMode::Off) {
            gatherer_->add_source(sic_.source());
        }
        if (options_.external_ip) {
            gatherer_->add_source(
                std::make_unique<jgather::ConfiguredExternalSource>(*options_.external_ip));
        }
        gatherer_->on_candidate = [this](const jgather::Candidate& c) {
            log("local candidate: " + std::string(to_string(c.ice()->type)) + " " + c.host + ":" +
                std::to_string(c.port) + " from " + c.origin.to_string());
            local_.push_back(endpoint_of(c));
            schedule_flush();
        };
        gatherer_->on_source_done = [this](const jgather::SourceReport& r) {
            log("source " + r.name + ": " + std::string(to_string(r.state)) +
                (r.error.empty() ? "" : " (" + r.error + ")"));
        };
        gatherer_->on_complete = [this](const jgather::GatherResult&) {
            gathering_done_ = true;
            gathering_time_ = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - session_start_);
            schedule_flush();
        };
        if (auto started = gatherer_->gather(); !started) {
            finish("failed", started.error().message);
            return false;
        }
        schedule_flush(); // the initiate or accept goes out even before the first candidate
        return true;
    }

    // Candidates leave in batches: what one loop iteration delivered goes in one stanza.
    void schedule_flush() {
        if (flush_ == 0 && state_.empty()) {
            flush_ = g_idle_add(
                [](gpointer self) -> gboolean {
                    auto* call = static_cast<Call*>(self);
                    call->flush_ = 0;
                    call->flush();
                    return G_SOURCE_REMOVE;
                },
                this);
        }
    }

    void flush() {
        if (!session_ || !gatherer_) {
            return;
        }
        const jgather::GatherResult& r = gatherer_->result();
        jgather::xep0176::Transport transport{r.ufrag, r.pwd, {}};
        for (const jgather::Candidate& c : r.ice) {
            if (sent_ids_.insert(c.ice()->id).second) {
                transport.candidates.push_back(c);
            }
        }
        const bool end = gathering_done_ && !sent_end_;
        transport.end_of_candidates = end;
        sent_end_ = sent_end_ || end;
        const auto creator = gloox::Jingle::Content::CInitiator; // the initiator created it
        if (!opened_) {
            opened_ = true;
            auto* content = jgather::jingle::make_content(kContentName, creator, &description_,
                                                          std::move(transport));
            // gloox takes what it sends; what it refuses (a session no longer pending) stays ours.
            const bool sent = options_.answer ? session_->sessionAccept(content)
                                              : session_->sessionInitiate(content);
            if (!sent) {
                delete content;
                return;
            }
            log(options_.answer ? "session-accept sent"
                                : "session-initiate sent to " + options_.peer);
        } else if (!transport.candidates.empty() || end) {
            auto* content =
                jgather::jingle::make_content(kContentName, creator, nullptr, std::move(transport));
            if (!session_->transportInfo(content)) {
                delete content;
            }
        }
    }

    void apply(const gloox::Jingle::Session::Jingle* jingle) {
        if (!remote_side_) {
            return;
        }
        for (const gloox::Jingle::Plugin* plugin : jingle->plugins()) {
            if (plugin->pluginType() != gloox::Jingle::PluginContent) {
                continue;
            }
            const auto* transport =
                jgather::jingle::ice_udp_of(*static_cast<const gloox::Jingle::Content*>(plugin));
            if (transport == nullptr) {
                continue;
            }
            if (!transport->valid()) {
                finish("failed", "the peer's transport: " + transport->error());
                return;
            }
            auto applied = remote_side_->apply(transport->transport());
            if (!applied) {
                finish("failed", "the peer's transport: " + applied.error().message);
                return;
            }
            for (const jgather::Candidate& c : transport->transport().candidates) {
                log("remote candidate: " + std::string(to_string(c.ice()->type)) + " " + c.host +
                    ":" + std::to_string(c.port));
                remote_.push_back(endpoint_of(c));
                remote_.back().source = "peer";
            }
            for (const std::string& why : applied->skipped) {
                log("remote candidate skipped: " + why);
            }
            if (transport->transport().end_of_candidates) {
                log("the peer's end of candidates");
                (void)remote_side_->end_of_candidates();
            }
        }
    }

    static void on_state(NiceAgent*, guint, guint component, guint state, gpointer self) {
        auto* call = static_cast<Call*>(self);
        call->log(std::string("ICE component ") + std::to_string(component) + ": " +
                  nice_component_state_to_string(static_cast<NiceComponentState>(state)));
        if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
            !call->connected_) {
            call->connected_ = true;
            call->connect_time_ = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - call->session_start_);
            call->sender_ = g_timeout_add(static_cast<guint>(kSendInterval.count()), on_send, call);
        } else if (state == NICE_COMPONENT_STATE_FAILED && !call->connected_) {
            call->finish("failed", "ICE failed: no candidate pair connected");
        }
    }

    static gboolean on_send(gpointer self) {
        auto* call = static_cast<Call*>(self);
        const std::string payload = "jgather-call " + std::to_string(call->sent_);
        if (nice_agent_send(call->agent_, call->stream_, 1, static_cast<guint>(payload.size()),
                            payload.c_str()) > 0) {
            ++call->sent_;
        }
        if (call->sent_ < call->options_.count) {
            return G_SOURCE_CONTINUE;
        }
        call->sender_ = 0;
        call->linger_ = g_timeout_add(static_cast<guint>(kLinger.count()), on_linger, call);
        return G_SOURCE_REMOVE;
    }

    static gboolean on_linger(gpointer self) {
        auto* call = static_cast<Call*>(self);
        call->linger_ = 0;
        call->finish("connected", "");
        return G_SOURCE_REMOVE;
    }

    static void on_datagram(NiceAgent*, guint, guint, guint, gchar*, gpointer self) {
        auto* call = static_cast<Call*>(self);
        ++call->received_;
        if (call->received_ == 1) {
            call->log("first datagram from the peer");
        }
        if (call->received_ >= call->options_.count && call->sent_ >= call->options_.count &&
            call->linger_ != 0) {
            g_source_remove(call->linger_);
            call->linger_ = 0;
            call->finish("connected", "");
        }
    }

    static gboolean on_timeout(gpointer self) {
        auto* call = static_cast<Call*>(self);
        call->timeout_ = 0;
        call->finish(call->connected_ ? "connected" : "timed-out",
                     call->connected_ ? "" : "no connection within --timeout");
        return G_SOURCE_REMOVE;
    }

    void finish(const std::string& state, const std::string& error) {
        if (!state_.empty()) {
            return;
        }
        state_ = state;
        error_ = error;
        if (state_ == "connected" && (sent_ == 0 || received_ == 0)) {
            error_ = "connected, but no datagram " +
                     std::string(received_ == 0 ? "arrived from the peer" : "could be sent");
        }
        if (session_ && !terminated_by_peer_ && opened_) {
            auto* reason = new gloox::Jingle::Session::Reason(
                state_ == "connected" ? gloox::Jingle::Session::Reason::Success
                                      : gloox::Jingle::Session::Reason::ConnectivityError);
            if (!session_->sessionTerminate(reason)) {
                delete reason;
            }
        }
        log("call " + state_ + (error_.empty() ? "" : ": " + error_));
        g_main_loop_quit(main_loop_);
    }

    Options options_;
    GMainLoop* main_loop_;
    std::unique_ptr<jgather::EventLoop> loop_;
    jgather::xmpp::XmppConnection connection_;
    jgather::SicService sic_;
    jgather::ExtdiscoService extdisco_;
    std::optional<jgather::ExternalServices> services_;
    gloox::Jingle::SessionManager sessions_;
    gloox::Tag description_{"description"};
    gloox::Jingle::Session* session_ = nullptr;
    NiceAgent* agent_ = nullptr;
    guint stream_ = 0;
    std::unique_ptr<jgather::Gatherer> gatherer_;
    std::optional<jgather::nice::RemoteCandidates> remote_side_;
    std::set<std::string> sent_ids_;
    std::vector<Endpoint> local_;
    std::vector<Endpoint> remote_;
    bool opened_ = false;
    bool gathering_done_ = false;
    bool sent_end_ = false;
    bool connected_ = false;
    bool terminated_by_peer_ = false;
    unsigned sent_ = 0;
    unsigned received_ = 0;
    guint timeout_ = 0;
    guint sender_ = 0;
    guint linger_ = 0;
    guint flush_ = 0;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point session_start_;
    std::chrono::microseconds connect_time_{0};
    std::chrono::microseconds gathering_time_{0};
    std::string state_;
    std::string error_;
};

} // namespace

int main(int argc, char** argv) {
    cli::program = "jgather-call";
    Options options = parse_args(argc, argv);
    return cli::run_session<Call>(std::move(options));
}
