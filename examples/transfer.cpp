// A Jingle file transfer on jgather's SOCKS5 pieces, for jgather-send and jgather-receive.
//
// XEP-0166 session flow, XEP-0234 file description (sha-256 hash, XEP-0300), XEP-0260 transport:
// both sides offer their candidates (a Gatherer with SIC and proxy65 sources), serve their direct
// ones with an s5b::Acceptor, try the other's with an s5b::Connector, tell each other the result
// (candidate-used / candidate-error), nominate the higher-priority one (§2.4), activate it when
// it is a proxy (§2.5, Proxy65Service::activate), and then the file flows from the initiator to
// the responder. The receiver checks size and SHA-256 and ends the session with success (or
// media-error); the sender exits 0 only on that success.
#include "transfer.hpp"
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <glib.h>
#include <gloox/error.h>
#include <gloox/jinglecontent.h>
#include <gloox/jinglesession.h>
#include <gloox/jinglesessionhandler.h>
#include <gloox/jinglesessionmanager.h>

#include <jgather/glib.hpp>
#include <jgather/jgather.hpp>
#include <jgather/jingle.hpp>
#include <jgather/s5b.hpp>
#include <jgather/sources/proxy65.hpp>
#include <jgather/xep0260.hpp>

#include "cli.hpp"
#include "file_offer.hpp"

namespace transfer {
namespace {

constexpr const char* kContentName = "file";
// Reads and writes of the file and the socket, at most this much at a time.
constexpr std::size_t kChunk = 256 * 1024;
// Progress on stderr this often while bytes flow.
constexpr auto kProgressInterval = std::chrono::milliseconds(1000);
// How long candidates are gathered (SIC and proxy discovery answer within it on a live server).
constexpr auto kGatherDeadline = std::chrono::milliseconds(5000);
// RFC 8305 §5's recommended Connection Attempt Delay; each attempt bounded as below.
constexpr auto kStagger = std::chrono::milliseconds(250);
constexpr auto kAttemptTimeout = std::chrono::milliseconds(10000);
// Once the peer has connected to one of our candidates, our own attempts still pending get
// this long to complete before we stop them and answer candidate-error, so that the §2.4
// nomination can go ahead: a better pair may still connect within a few round trips (TCP and
// SOCKS5 take three), but a black-holed one would hold the session for kAttemptTimeout.
constexpr auto kNominationGrace = std::chrono::milliseconds(1000);

using Clock = std::chrono::steady_clock;

std::string random_sid() {
    std::random_device device;
    std::ostringstream out;
    for (int i = 0; i < 4; ++i) {
        out << std::hex << device();
    }
    return out.str();
}

// Microseconds as milliseconds with three decimals ("591.704").
std::string millis(std::chrono::microseconds us) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", cli::ms(us));
    return text;
}

std::string base_name(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A TCP listener on @p port, both address families where the system has IPv6 (the gatherer
// opens one itself only when no port is given).
jgather::Result<jgather::s5b::Socket> listen_on(std::uint16_t port) {
    for (const int family : {AF_INET6, AF_INET}) {
        jgather::s5b::Socket socket(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!socket) {
            continue;
        }
        const int on = 1;
        const int off = 0;
        setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        sockaddr_storage address{};
        socklen_t length = 0;
        if (family == AF_INET6) {
            setsockopt(socket.fd(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(port);
            length = sizeof *in6;
        } else {
            auto* in = reinterpret_cast<sockaddr_in*>(&address);
            in->sin_family = AF_INET;
            in->sin_port = htons(port);
            length = sizeof *in;
        }
        if (bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            listen(socket.fd(), SOMAXCONN) != 0) {
            return jgather::Error{"cannot listen on TCP port " + std::to_string(port) + ": " +
                                  std::strerror(errno)};
        }
        return socket;
    }
    return jgather::Error{std::string("cannot open a TCP socket: ") + std::strerror(errno)};
}

const gloox::Jingle::Content* first_content(const gloox::Jingle::Session::Jingle* jingle) {
    for (const gloox::Jingle::Plugin* plugin : jingle->plugins()) {
        if (plugin->pluginType() == gloox::Jingle::PluginContent) {
            return static_cast<const gloox::Jingle::Content*>(plugin);
        }
    }
    return nullptr;
}

std::string describe(const jgather::Candidate& c) {
    return std::string(to_string(c.s5b()->type)) + " " + c.host + ":" + std::to_string(c.port) +
           " (cid " + c.s5b()->cid + ", jid " + c.s5b()->jid + ")";
}

std::string json_streamhost(const jgather::Candidate& c) {
    return "{\"type\": " + cli::json_string(to_string(c.s5b()->type)) +
           ", \"jid\": " + cli::json_string(c.s5b()->jid) +
           ", \"host\": " + cli::json_string(c.host) + ", \"port\": " + std::to_string(c.port) +
           "}";
}

// XEP-0166 §7.4: the condition of a session-terminate's <reason/> and its <text/>, read from
// the element itself: gloox 1.0.24's Reason parser compares each child's own xmlns attribute
// (absent on <success/>) with Jingle's namespace and so leaves its reason uninitialised.
struct TerminateReason {
    std::string condition = "none";
    std::string text;
};

TerminateReason reason_of(const gloox::Jingle::Session::Jingle* jingle) {
    TerminateReason out;
    const gloox::Tag* root = jingle ? jingle->embeddedTag() : nullptr;
    const gloox::Tag* reason = root ? root->findChild("reason") : nullptr;
    if (reason == nullptr) {
        return out;
    }
    for (const gloox::Tag* child : reason->children()) {
        if (child->name() == "text") {
            out.text = child->cdata();
        } else if (out.condition == "none") {
            out.condition = child->name();
        }
    }
    return out;
}

// One transfer: the XMPP session, the gathering, the Jingle session and the bytes.
class Transfer final : public gloox::Jingle::SessionHandler {
public:
    Transfer(Options options, GMainLoop* main_loop)
        : options_(std::move(options)), main_loop_(main_loop),
          loop_(jgather::glib::make_loop(nullptr)), connection_(nullptr, options_.xmpp),
          sic_(connection_, options_.sic), proxies_(connection_, proxy_options(options_)),
          sessions_(&connection_.client(), this) {
        sessions_.registerPlugin(new gloox::Jingle::Content());
        sessions_.registerPlugin(new jgather::jingle::ElementPlugin(jgather::jingle::s5b_filter()));
        sessions_.registerPlugin(new jgather::jingle::ElementPlugin(
            std::string("content/description[@xmlns='") + kFileTransferNs + "']"));
    }

    ~Transfer() override {
        // Watches and timers first, then what they point at.
        pump_.reset();
        progress_.reset();
        timeout_.reset();
        grace_.reset();
        proxy_connector_.reset();
        connector_.reset();
        acceptor_.reset();
        gatherer_.reset();
        if (file_fd_ >= 0) {
            close(file_fd_);
        }
        connection_.on_connected = nullptr;
        connection_.on_disconnected = nullptr;
        connection_.disconnect();
    }

    void run() {
        start_ = Clock::now();
        timeout_ = loop_->call_after(options_.timeout, [this] {
            finish("timed-out", std::string(stream_ ? "the transfer" : "no open stream") +
                                    " did not end within --timeout (" +
                                    std::to_string(options_.timeout.count()) + " ms)");
        });
        if (sending() && !hash_file()) {
            return;
        }
        connection_.on_connected = [this] {
            log("xmpp: connected as " + connection_.client().jid().full());
            my_jid_ = connection_.client().jid().full();
            if (sending()) {
                offer();
            } else {
                log("waiting for a file offer");
            }
        };
        connection_.on_disconnected = [this](const jgather::xmpp::Disconnect& d) {
            finish("failed", "xmpp: " + d.message);
        };
        if (!connection_.connect()) {
            finish("failed", "xmpp: cannot connect as '" + options_.xmpp.jid + "'");
        }
    }

    [[nodiscard]] bool ended() const { return !state_.empty(); }
    [[nodiscard]] int exit_code() const { return state_ == "done" ? 0 : 1; }

    void report() const {
        const bool json = options_.format == "json";
        std::ostringstream out;
        if (json) {
            out << "{\n  \"state\": " << cli::json_string(state_)
                << ",\n  \"error\": " << (error_.empty() ? "null" : cli::json_string(error_))
                << ",\n  \"bytes\": " << bytes_
                << ",\n  \"sha256\": " << (sha_hex_.empty() ? "null" : cli::json_string(sha_hex_))
                << ",\n  \"streamhost\": " << (chosen_ ? json_streamhost(*chosen_) : "null")
                << ",\n  \"connect_ms\": " << (stream_open_ ? millis(connect_time_) : "null")
                << ",\n  \"transfer_ms\": " << (transfer_done_ ? millis(transfer_time_) : "null")
                << ",\n  \"candidates_tried\": [";
            for (std::size_t i = 0; i < tried_.size(); ++i) {
                const jgather::s5b::Attempt& a = tried_[i];
                out << (i ? ",\n    " : "\n    ")
                    << "{\"cid\": " << cli::json_string(a.candidate.s5b()->cid)
                    << ", \"type\": " << cli::json_string(to_string(a.candidate.s5b()->type))
                    << ", \"host\": " << cli::json_string(a.candidate.host)
                    << ", \"port\": " << a.candidate.port
                    << ", \"result\": " << cli::json_string(to_string(a.result))
                    << ", \"ms\": " << a.elapsed.count() << "}";
            }
            out << (tried_.empty() ? "]" : "\n  ]") << "\n}\n";
        } else {
            out << "state: " << state_ << (error_.empty() ? "" : " (" + error_ + ")") << "\n"
                << "bytes: " << bytes_ << "\n";
            if (!sha_hex_.empty()) {
                out << "sha256: " << sha_hex_ << "\n";
            }
            if (chosen_) {
                out << "streamhost: " << describe(*chosen_) << "\n";
            }
            if (stream_open_) {
                out << "stream open after " << cli::ms(connect_time_) << " ms\n";
            }
            if (transfer_done_) {
                out << "transfer took " << cli::ms(transfer_time_) << " ms\n";
            }
            for (const jgather::s5b::Attempt& a : tried_) {
                out << "tried " << describe(a.candidate) << ": " << to_string(a.result) << " in "
                    << a.elapsed.count() << " ms" << (a.reason.empty() ? "" : " (" + a.reason + ")")
                    << "\n";
            }
        }
        std::cout << out.str();
    }

    // gloox::Jingle::SessionHandler — on gloox's stack, inside the connection's read: what
    // needs the loop (gathering, connecting) is started from here but reports from the loop.
    void handleSessionAction(gloox::Jingle::Action action, gloox::Jingle::Session* session,
                             const gloox::Jingle::Session::Jingle* jingle) override {
        if (session != session_) {
            if (action == gloox::Jingle::SessionInitiate && !sending() && session_ == nullptr &&
                state_.empty()) {
                offered(session, jingle);
            }
            return; // another session
        }
        switch (action) {
        case gloox::Jingle::SessionAccept:
            log("session-accept from " + peer_jid_);
            accepted(jingle);
            break;
        case gloox::Jingle::TransportInfo:
            transport_info(jingle);
            break;
        case gloox::Jingle::SessionTerminate:
            terminated(jingle);
            break;
        default:
            break;
        }
    }
    void handleSessionActionError(gloox::Jingle::Action, gloox::Jingle::Session* session,
                                  const gloox::Error* error) override {
        if (session == session_) {
            finish("failed", "the peer refused a Jingle request" + cli::describe(error));
        }
    }
    void handleIncomingSession(gloox::Jingle::Session*) override {}

private:
    static jgather::Proxy65Options proxy_options(const Options& o) {
        jgather::Proxy65Options p;
        if (o.proxy == ProxyMode::Jid) {
            p.proxies = {o.proxy_jid};
        }
        return p;
    }

    [[nodiscard]] bool sending() const { return options_.role == Role::Send; }

    void log(const std::string& what) const {
        const auto since =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_);
        std::fprintf(stderr, "[%9.3f ms] %s\n", cli::ms(since), what.c_str());
    }

    // The sender's file: size and SHA-256 before it is offered (XEP-0234 §5 puts the hash in
    // the offer, so the receiver can check what arrives).
    bool hash_file() {
        file_fd_ = open(options_.file.c_str(), O_RDONLY | O_CLOEXEC);
        if (file_fd_ < 0) {
            finish("failed", "cannot open '" + options_.file + "': " + std::strerror(errno));
            return false;
        }
        Sha256 sha;
        std::vector<char> buffer(kChunk);
        std::uint64_t size = 0;
        for (;;) {
            const ssize_t n = read(file_fd_, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                finish("failed", "cannot read '" + options_.file + "': " + std::strerror(errno));
                return false;
            }
            if (n == 0) {
                break;
            }
            sha.feed(buffer.data(), static_cast<std::size_t>(n));
            size += static_cast<std::uint64_t>(n);
        }
        sha.finish();
        lseek(file_fd_, 0, SEEK_SET);
        file_ = FileOffer{base_name(options_.file), size, sha.base64()};
        sha_hex_ = sha.hex();
        log("file: " + file_.name + ", " + std::to_string(size) + " bytes, sha-256 " + sha_hex_);
        return true;
    }

    // --- the session ----------------------------------------------------------------------

    void offer() {
        peer_jid_ = options_.peer;
        session_ = sessions_.createSession(gloox::JID(peer_jid_), this);
        if (session_ == nullptr) {
            finish("failed", "cannot create a Jingle session with " + peer_jid_);
            return;
        }
        sid_ = random_sid();
        gather();
    }

    void offered(gloox::Jingle::Session* session, const gloox::Jingle::Session::Jingle* jingle) {
        session_ = session;
        opened_ = true; // from now on, a failure answers the offer with session-terminate
        peer_jid_ = session->initiator().full();
        session_start_ = Clock::now();
        log("session-initiate from " + peer_jid_);
        const gloox::Jingle::Content* content = first_content(jingle);
        if (content == nullptr) {
            refuse(gloox::Jingle::Session::Reason::FailedApplication, "the offer has no content");
            return;
        }
        content_name_ = content->name();
        auto file = read_description(*content);
        if (!file) {
            refuse(gloox::Jingle::Session::Reason::UnsupportedApplications,
                   "the offer: " + file.error().message);
            return;
        }
        file_ = *file;
        auto transport = jgather::jingle::s5b_of(*content);
        if (!transport) {
            refuse(gloox::Jingle::Session::Reason::UnsupportedTransports,
                   "the offer has no XEP-0260 SOCKS5 transport");
            return;
        }
        if (!*transport) {
            refuse(gloox::Jingle::Session::Reason::FailedTransport,
                   "the offer's transport: " + transport->error().message);
            return;
        }
        sid_ = (*transport)->sid;
        peer_transport(**transport);
        log("offer: " + file_.name + ", " +
            (file_.size ? std::to_string(*file_.size) + " bytes" : std::string("size unknown")) +
            (file_.sha256_base64.empty() ? ", no sha-256" : ", sha-256 " + file_.sha256_base64));
        const std::string part = options_.file + ".part";
        file_fd_ = open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (file_fd_ < 0) {
            refuse(gloox::Jingle::Session::Reason::GeneralError,
                   "cannot write '" + part + "': " + std::strerror(errno));
            return;
        }
        gather();
    }

    void refuse(gloox::Jingle::Session::Reason::Reasons reason, const std::string& why) {
        terminate_reason_ = reason;
        finish("failed", why);
    }

    // The peer's candidates (XEP-0260 §2.2) and the DST.ADDR to reach them: the one it states,
    // or SHA-1(sid + its JID + ours), as it is the offering side of those candidates (§2.3).
    void peer_transport(const jgather::xep0260::Transport& t) {
        if (t.sid != sid_) {
            fail_transport("the peer's transport has sid '" + t.sid + "', not '" + sid_ + "'");
            return;
        }
        peer_candidates_.clear();
        for (const jgather::Candidate& c : t.candidates) {
            log("peer candidate: " + describe(c));
            if (options_.no_direct && c.s5b()->type != jgather::S5bType::Proxy) {
                continue; // --no-direct: only a proxy may carry this transfer
            }
            peer_candidates_.push_back(c);
        }
        peer_dstaddr_ =
            t.dstaddr.empty() ? jgather::xep0260::dstaddr(sid_, peer_jid_, my_jid_) : t.dstaddr;
    }

    void gather() {
        jgather::GatherOptions gather;
        gather.ice = false;
        gather.s5b = true;
        gather.jid = my_jid_;
        gather.host.ipv4 = !options_.only_v6;
        gather.host.ipv6 = !options_.only_v4;
        if (options_.port != 0) {
            gather.s5b_port = options_.port;
        }
        gather.deadline = std::min<std::chrono::milliseconds>(kGatherDeadline, options_.timeout);
        gatherer_ = std::make_unique<jgather::Gatherer>(*loop_, gather);
        if (options_.sic != jgather::SicMode::Off && !options_.no_direct) {
            gatherer_->add_source(sic_.source());
        }
        if (options_.proxy != ProxyMode::Off) {
            gatherer_->add_source(proxies_.source());
        }
        gatherer_->on_source_done = [this](const jgather::SourceReport& r) {
            log("source " + r.name + ": " + std::string(to_string(r.state)) +
                (r.error.empty() ? "" : " (" + r.error + ")") +
                (r.detail.empty() ? "" : " " + r.detail));
        };
        gatherer_->on_complete = [this](const jgather::GatherResult& r) {
            gathered(r);
        };
        if (auto started = gatherer_->gather(); !started) {
            fail_transport("gathering: " + started.error().message);
        }
    }

    void gathered(const jgather::GatherResult& result) {
        my_dstaddr_ = jgather::xep0260::dstaddr(sid_, my_jid_, peer_jid_);
        bool direct = false;
        for (const jgather::Candidate& c : result.s5b) {
            if (options_.no_direct && c.s5b()->type != jgather::S5bType::Proxy) {
                continue;
            }
            direct = direct || c.s5b()->type != jgather::S5bType::Proxy;
            my_candidates_.push_back(c);
            log("our candidate: " + describe(c));
        }
        if (direct) {
            jgather::s5b::Socket listener(gatherer_->take_s5b_listener());
            if (options_.port != 0) {
                auto ours = listen_on(options_.port);
                if (!ours) {
                    fail_transport(ours.error().message);
                    return;
                }
                listener = std::move(*ours);
            }
            acceptor_ = std::make_unique<jgather::s5b::Acceptor>(*loop_, std::move(listener));
            acceptor_->on_stream = [this](jgather::s5b::AcceptedStream s) {
                log("the peer connected to our listener from " + s.peer.to_string());
                accepted_.push_back(std::move(s));
                decide();
            };
            acceptor_->on_rejected = [this](const jgather::s5b::RejectedConnection& r) {
                log("refused a connection from " + r.peer.to_string() + ": " + r.reason);
            };
            if (auto ok = acceptor_->start(); !ok) {
                fail_transport("our SOCKS5 listener: " + ok.error().message);
                return;
            }
            (void)acceptor_->expect(my_dstaddr_);
        }
        gatherer_.reset(); // done with it; the listener is the acceptor's now
        jgather::xep0260::Transport t;
        t.sid = sid_;
        t.dstaddr = my_dstaddr_;
        t.candidates = my_candidates_;
        const gloox::Tag description = make_description(file_);
        const auto creator = gloox::Jingle::Content::CInitiator; // the initiator created it
        auto* content = jgather::jingle::make_content(content_name_, creator, &description, t,
                                                      gloox::Jingle::Content::SInitiator);
        const bool sent =
            sending() ? session_->sessionInitiate(content) : session_->sessionAccept(content);
        if (!sent) {
            delete content; // gloox took nothing: the session is no longer pending
            finish("failed", "the Jingle session ended before it could be answered");
            return;
        }
        opened_ = true;
        if (sending()) {
            session_start_ = Clock::now();
            log("session-initiate sent to " + peer_jid_ + " with " +
                std::to_string(my_candidates_.size()) + " candidates");
        } else {
            log("session-accept sent with " + std::to_string(my_candidates_.size()) +
                " candidates");
            connect_to_peer();
        }
    }

    void accepted(const gloox::Jingle::Session::Jingle* jingle) {
        const gloox::Jingle::Content* content = first_content(jingle);
        auto transport = content ? jgather::jingle::s5b_of(*content) : std::nullopt;
        if (!transport || !*transport) {
            fail_transport(transport ? "the peer's transport: " + transport->error().message
                                     : "the session-accept has no XEP-0260 transport");
            return;
        }
        peer_transport(**transport);
        connect_to_peer();
    }

    // XEP-0260 §2.3: try the peer's candidates, highest priority first, staggered.
    void connect_to_peer() {
        if (!state_.empty()) {
            return;
        }
        jgather::s5b::ConnectOptions connect;
        connect.dstaddr = peer_dstaddr_;
        connect.stagger = kStagger;
        connect.attempt_timeout = kAttemptTimeout;
        connect.resolve = jgather::glib::make_resolver(nullptr);
        if (peer_candidates_.empty()) {
            connector_done({}, "the peer offered no candidate we may try");
            return;
        }
        connector_ =
            std::make_unique<jgather::s5b::Connector>(*loop_, peer_candidates_, std::move(connect));
        connector_->on_done = [this](jgather::s5b::ConnectReport report) {
            tried_ = report.attempts;
            connector_done(std::move(report), "");
        };
        if (auto started = connector_->start(); !started) {
            connector_done({}, started.error().message);
        }
    }

    void connector_done(jgather::s5b::ConnectReport report, const std::string& why) {
        jgather::xep0260::Transport info;
        info.sid = sid_;
        if (report.winner) {
            const jgather::Candidate& won = report.attempts[*report.winner].candidate;
            log("connected to the peer's " + describe(won) + " after " +
                std::to_string(report.elapsed.count()) + " ms");
            we_used_ = won;
            our_socket_ = std::move(report.socket);
            info.candidate_used = won.s5b()->cid;
        } else {
            log("none of the peer's candidates connected: " + (why.empty() ? report.error : why));
            info.candidate_error = true;
        }
        we_told_ = true;
        send_transport_info(info);
        decide();
    }

    void send_transport_info(const jgather::xep0260::Transport& info) {
        auto* content = jgather::jingle::make_content(
            content_name_, gloox::Jingle::Content::CInitiator, nullptr, info);
        if (!session_->transportInfo(content)) {
            delete content;
        }
    }

    void transport_info(const gloox::Jingle::Session::Jingle* jingle) {
        const gloox::Jingle::Content* content = first_content(jingle);
        auto transport = content ? jgather::jingle::s5b_of(*content) : std::nullopt;
        if (!transport) {
            return;
        }
        if (!*transport) {
            fail_transport("the peer's transport-info: " + transport->error().message);
            return;
        }
        const jgather::xep0260::Transport& t = **transport;
        if (!t.candidate_used.empty() || t.candidate_error) {
            if (peer_told_) {
                return; // §2.4: one answer; a second one changes nothing
            }
            peer_told_ = true;
            if (t.candidate_error) {
                log("the peer could connect to none of our candidates");
            } else {
                auto it = std::find_if(
                    my_candidates_.begin(), my_candidates_.end(),
                    [&](const jgather::Candidate& c) { return c.s5b()->cid == t.candidate_used; });
                if (it == my_candidates_.end()) {
                    fail_transport("the peer used candidate '" + t.candidate_used +
                                   "', which we never offered");
                    return;
                }
                peer_used_ = *it;
                log("the peer connected to our " + describe(*it));
                if (connector_ && !we_told_) {
                    grace_ = loop_->call_after(kNominationGrace, [this] {
                        if (connector_ && !we_told_) {
                            connector_->stop("the peer had connected to our candidate " +
                                             peer_used_->s5b()->cid + " " +
                                             std::to_string(kNominationGrace.count()) +
                                             " ms before");
                        }
                    });
                }
            }
            decide();
        } else if (!t.activated.empty()) {
            if (chosen_ && chosen_is_theirs_ && chosen_->s5b()->cid == t.activated) {
                log("the peer activated its proxy");
                stream_ready(std::move(our_socket_));
            }
        } else if (t.proxy_error) {
            fail_transport("the peer could not activate its proxy (proxy-error)");
        }
    }

    // XEP-0260 §2.4: once both sides have told each other what they could use, the candidate
    // with the higher priority is nominated; on equal priorities the one the initiator chose.
    void decide() {
        if (!state_.empty() || !we_told_ || !peer_told_) {
            return;
        }
        if (!chosen_) {
            if (!we_used_ && !peer_used_) {
                fail_transport("no candidate connected in either direction" +
                               (tried_.empty() ? std::string() : ": " + connect_error()));
                return;
            }
            bool theirs = we_used_.has_value();
            if (we_used_ && peer_used_ && we_used_->priority != peer_used_->priority) {
                theirs = we_used_->priority > peer_used_->priority;
            } else if (we_used_ && peer_used_) {
                theirs = sending(); // equal: the initiator's choice wins
            }
            chosen_ = theirs ? *we_used_ : *peer_used_;
            chosen_is_theirs_ = theirs;
            log("nominated: " + std::string(theirs ? "the peer's " : "our ") + describe(*chosen_));
            if (theirs) {
                acceptor_.reset(); // the peer's candidate carries it: ours are not needed
                accepted_.clear();
                if (chosen_->s5b()->type != jgather::S5bType::Proxy) {
                    stream_ready(std::move(our_socket_));
                } else {
                    log("waiting for the peer to activate its proxy");
                }
                return;
            }
            our_socket_ = jgather::s5b::Socket(); // ours carries it: close what we opened
            if (chosen_->s5b()->type == jgather::S5bType::Proxy) {
                activate_our_proxy();
                return;
            }
        }
        if (!chosen_is_theirs_ && !stream_ && chosen_->s5b()->type != jgather::S5bType::Proxy) {
            // Our direct or assisted candidate: the stream our acceptor took from the peer. Its
            // connector may have completed more than one handshake before it closed the losers:
            // the one still open is the winner.
            for (auto it = accepted_.rbegin(); it != accepted_.rend(); ++it) {
                char byte = 0;
                if (recv(it->socket.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0) {
                    jgather::s5b::Socket socket = std::move(it->socket);
                    accepted_.clear();
                    acceptor_.reset();
                    stream_ready(std::move(socket));
                    return;
                }
            }
        }
    }

    std::string connect_error() const {
        std::string out;
        for (const jgather::s5b::Attempt& a : tried_) {
            out += (out.empty() ? "" : "; ") + describe(a.candidate) + " " +
                   std::string(to_string(a.result)) + (a.reason.empty() ? "" : ": " + a.reason);
        }
        return out;
    }

    // XEP-0260 §2.5: the peer reached our proxy; we connect to it too, with the DST.ADDR of our
    // candidates, activate it (XEP-0065 §6.3.3) and say so.
    void activate_our_proxy() {
        log("connecting to our proxy " + describe(*chosen_));
        jgather::s5b::ConnectOptions connect;
        connect.dstaddr = my_dstaddr_;
        connect.attempt_timeout = kAttemptTimeout;
        connect.resolve = jgather::glib::make_resolver(nullptr);
        proxy_connector_ =
            std::make_unique<jgather::s5b::Connector>(*loop_, std::vector{*chosen_}, connect);
        proxy_connector_->on_done = [this](jgather::s5b::ConnectReport report) {
            if (!report.winner) {
                proxy_error("cannot connect to our proxy: " + report.error);
                return;
            }
            proxy_socket_ = std::move(report.socket);
            proxies_.activate(chosen_->s5b()->jid, sid_, peer_jid_,
                              [this](const jgather::Result<void>& activated) {
                                  if (!activated) {
                                      proxy_error(activated.error().message);
                                      return;
                                  }
                                  log("our proxy is activated");
                                  jgather::xep0260::Transport info;
                                  info.sid = sid_;
                                  info.activated = chosen_->s5b()->cid;
                                  send_transport_info(info);
                                  stream_ready(std::move(proxy_socket_));
                              });
        };
        if (auto started = proxy_connector_->start(); !started) {
            proxy_error(started.error().message);
        }
    }

    void proxy_error(const std::string& why) {
        jgather::xep0260::Transport info;
        info.sid = sid_;
        info.proxy_error = true;
        send_transport_info(info);
        fail_transport("our proxy: " + why);
    }

    void fail_transport(const std::string& why) {
        terminate_reason_ = gloox::Jingle::Session::Reason::FailedTransport;
        finish("failed", why);
    }

    void terminated(const gloox::Jingle::Session::Jingle* jingle) {
        terminated_by_peer_ = true;
        const TerminateReason reason = reason_of(jingle);
        const std::string why = reason.condition + (reason.text.empty() ? "" : ": " + reason.text);
        log("session-terminate from the peer (" + why + ")");
        if (sending() && sent_all_ && reason.condition == "success") {
            finish("done", "");
        } else {
            finish("failed", "the peer ended the session (" + why + ")");
        }
    }

    // --- the bytes ------------------------------------------------------------------------

    void stream_ready(jgather::s5b::Socket socket) {
        if (stream_ || !state_.empty()) {
            return;
        }
        if (!socket) {
            fail_transport("the nominated candidate's stream is gone");
            return;
        }
        stream_ = std::move(socket);
        stream_open_ = true;
        connect_time_ =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - session_start_);
        transfer_start_ = Clock::now();
        log("stream open after " + millis(connect_time_) + " ms");
        buffer_.resize(kChunk);
        progress_ = loop_->call_after(kProgressInterval, [this] { progress(); });
        if (sending()) {
            pump_ = loop_->watch_writable(stream_.fd(), [this] { send_some(); });
        } else {
            pump_ = loop_->watch_readable(stream_.fd(), [this] { receive_some(); });
        }
    }

    void progress() {
        const double seconds =
            std::chrono::duration<double>(Clock::now() - transfer_start_).count();
        char line[128];
        std::snprintf(line, sizeof line, "progress: %llu bytes, %.1f MiB/s",
                      static_cast<unsigned long long>(bytes_),
                      seconds > 0 ? static_cast<double>(bytes_) / seconds / 1048576.0 : 0.0);
        log(line);
        progress_ = loop_->call_after(kProgressInterval, [this] { progress(); });
    }

    void send_some() {
        for (;;) {
            if (sent_from_buffer_ == buffered_) {
                const ssize_t n = read(file_fd_, buffer_.data(), buffer_.size());
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0) {
                    finish("failed", "reading '" + options_.file + "': " + std::strerror(errno));
                    return;
                }
                if (n == 0) {
                    sent_everything();
                    return;
                }
                buffered_ = static_cast<std::size_t>(n);
                sent_from_buffer_ = 0;
            }
            const ssize_t n = send(stream_.fd(), buffer_.data() + sent_from_buffer_,
                                   buffered_ - sent_from_buffer_, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return; // the watch calls again when there is room
            }
            if (n < 0) {
                finish("failed", std::string("sending: ") + std::strerror(errno));
                return;
            }
            bytes_ += static_cast<std::uint64_t>(n);
            sent_from_buffer_ += static_cast<std::size_t>(n);
        }
    }

    // The whole file is in the socket: end our side (a proxy passes its last bytes on only
    // then, as prosody's does) and wait for the receiver's verdict.
    void sent_everything() {
        pump_.reset();
        progress_.reset(); // nothing flows any more: only the receiver's verdict is awaited
        shutdown(stream_.fd(), SHUT_WR);
        sent_all_ = true;
        transfer_done_ = true;
        transfer_time_ =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - transfer_start_);
        log("sent " + std::to_string(bytes_) + " bytes in " + millis(transfer_time_) +
            " ms; waiting for the receiver");
    }

    void receive_some() {
        for (;;) {
            const ssize_t n = recv(stream_.fd(), buffer_.data(), buffer_.size(), 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return;
            }
            if (n < 0) {
                finish("failed", std::string("receiving: ") + std::strerror(errno));
                return;
            }
            if (n == 0) {
                received_everything();
                return;
            }
            if (file_.size && bytes_ + static_cast<std::uint64_t>(n) > *file_.size) {
                terminate_reason_ = gloox::Jingle::Session::Reason::MediaError;
                finish("failed", "more bytes than the offered " + std::to_string(*file_.size));
                return;
            }
            if (!write_all(buffer_.data(), static_cast<std::size_t>(n))) {
                return;
            }
            received_sha_.feed(buffer_.data(), static_cast<std::size_t>(n));
            bytes_ += static_cast<std::uint64_t>(n);
        }
    }

    bool write_all(const char* data, std::size_t size) {
        while (size > 0) {
            const ssize_t n = write(file_fd_, data, size);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                terminate_reason_ = gloox::Jingle::Session::Reason::MediaError;
                finish("failed", "writing '" + options_.file + ".part': " + std::strerror(errno));
                return false;
            }
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }

    // The sender closed its side: check what arrived against the offer (XEP-0234 §8).
    void received_everything() {
        pump_.reset();
        transfer_done_ = true;
        transfer_time_ =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - transfer_start_);
        received_sha_.finish();
        sha_hex_ = received_sha_.hex();
        terminate_reason_ = gloox::Jingle::Session::Reason::MediaError;
        if (file_.size && bytes_ != *file_.size) {
            finish("failed", "the stream ended after " + std::to_string(bytes_) + " of " +
                                 std::to_string(*file_.size) + " bytes");
            return;
        }
        if (!file_.sha256_base64.empty() && received_sha_.base64() != file_.sha256_base64) {
            finish("failed", "sha-256 mismatch: received " + received_sha_.base64() + ", offered " +
                                 file_.sha256_base64);
            return;
        }
        if (fsync(file_fd_) != 0 || close(file_fd_) != 0) {
            file_fd_ = -1;
            finish("failed", "writing '" + options_.file + "': " + std::strerror(errno));
            return;
        }
        file_fd_ = -1;
        if (rename((options_.file + ".part").c_str(), options_.file.c_str()) != 0) {
            finish("failed", "renaming to '" + options_.file + "': " + std::strerror(errno));
            return;
        }
        terminate_reason_ = gloox::Jingle::Session::Reason::Success;
        log("received " + std::to_string(bytes_) + " bytes in " + millis(transfer_time_) +
            " ms, sha-256 " + sha_hex_);
        finish("done", "");
    }

    // Ends the run once: the session is terminated (unless the peer did), the loop quits.
    void finish(const std::string& state, const std::string& error) {
        if (!state_.empty()) {
            return;
        }
        state_ = state;
        error_ = error;
        pump_.reset();
        progress_.reset();
        if (session_ && opened_ && !terminated_by_peer_) {
            const auto reason = state == "done"        ? gloox::Jingle::Session::Reason::Success
                                : state == "timed-out" ? gloox::Jingle::Session::Reason::Timeout
                                                       : terminate_reason_;
            auto* r = new gloox::Jingle::Session::Reason(reason, "", error);
            if (!session_->sessionTerminate(r)) {
                delete r;
            }
        }
        if (!sending() && state != "done" && file_fd_ >= 0) {
            close(file_fd_);
            file_fd_ = -1;
            unlink((options_.file + ".part").c_str()); // no partial file is left behind
        }
        log("transfer " + state_ + (error_.empty() ? "" : ": " + error_));
        g_main_loop_quit(main_loop_);
    }

    Options options_;
    GMainLoop* main_loop_;
    std::unique_ptr<jgather::EventLoop> loop_;
    jgather::xmpp::XmppConnection connection_;
    jgather::SicService sic_;
    jgather::Proxy65Service proxies_;
    gloox::Jingle::SessionManager sessions_;
    gloox::Jingle::Session* session_ = nullptr;
    std::string my_jid_;
    std::string peer_jid_;
    std::string sid_;
    std::string content_name_ = kContentName;
    FileOffer file_;
    int file_fd_ = -1;

    std::unique_ptr<jgather::Gatherer> gatherer_;
    std::vector<jgather::Candidate> my_candidates_;
    std::vector<jgather::Candidate> peer_candidates_;
    std::string my_dstaddr_;
    std::string peer_dstaddr_;
    std::unique_ptr<jgather::s5b::Acceptor> acceptor_;
    std::vector<jgather::s5b::AcceptedStream> accepted_;
    std::unique_ptr<jgather::s5b::Connector> connector_;
    std::unique_ptr<jgather::s5b::Connector> proxy_connector_;
    std::vector<jgather::s5b::Attempt> tried_;
    jgather::s5b::Socket our_socket_;   // to the peer's candidate we used
    jgather::s5b::Socket proxy_socket_; // to our own proxy, before activation
    std::optional<jgather::Candidate> we_used_;
    std::optional<jgather::Candidate> peer_used_;
    bool we_told_ = false;
    bool peer_told_ = false;
    std::optional<jgather::Candidate> chosen_;
    bool chosen_is_theirs_ = false;

    jgather::s5b::Socket stream_;
    std::unique_ptr<jgather::LoopHandle> pump_;
    std::unique_ptr<jgather::LoopHandle> progress_;
    std::unique_ptr<jgather::LoopHandle> timeout_;
    std::unique_ptr<jgather::LoopHandle> grace_;
    std::vector<char> buffer_;
    std::size_t buffered_ = 0;         // bytes of the file in buffer_ (sender)
    std::size_t sent_from_buffer_ = 0; // of which already sent
    Sha256 received_sha_;
    std::string sha_hex_;
    std::uint64_t bytes_ = 0;
    bool opened_ = false;
    bool sent_all_ = false;
    bool terminated_by_peer_ = false;
    bool stream_open_ = false;
    bool transfer_done_ = false;
    gloox::Jingle::Session::Reason::Reasons terminate_reason_ =
        gloox::Jingle::Session::Reason::GeneralError;
    Clock::time_point start_;
    Clock::time_point session_start_;
    Clock::time_point transfer_start_;
    std::chrono::microseconds connect_time_{0};
    std::chrono::microseconds transfer_time_{0};
    std::string state_;
    std::string error_;
};

} // namespace

int run(Options options) {
    return cli::run_session<Transfer>(std::move(options));
}

} // namespace transfer
