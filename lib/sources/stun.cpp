// STUN Binding per base and server, on libnice's STUN message code; never the blocking
// stun_usage_bind_run(): sends, retransmissions and reads all run on the caller's loop.
#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <netinet/in.h>
#include <set>
#include <span>
#include <string>
#include <sys/socket.h>

#include <stun/stunagent.h>
#include <stun/usages/bind.h>

#include <jgather/sources/stun.hpp>

#include "stun_message.hpp"
#include "util/sockaddr.hpp"

namespace jgather {
namespace {

// RFC 8489 §18.1: the default port for STUN over UDP.
constexpr std::uint16_t kDefaultStunPort = 3478;

// libnice's agent keeps this many outstanding transaction ids (stun/constants.h).
constexpr std::size_t kMaxTransactions = STUN_AGENT_MAX_SAVED_IDS;

} // namespace

class StunSource::Private {
public:
    explicit Private(StunOptions options) : options_(std::move(options)) {
        stun::init_agent(agent_);
    }

    struct Transaction {
        std::size_t base_index = 0;
        int fd = -1;
        TransportAddress server;
        std::string server_text; // the configured server: the foundation input and origin
        StunMessage message{};
        std::array<std::uint8_t, STUN_MAX_MESSAGE_SIZE_IPV6> buffer{};
        std::size_t length = 0;
        StunTransactionId id{};
        unsigned sends = 0;
        std::chrono::milliseconds rto{};
        bool done = false;
        bool followed_alternate = false;
        std::unique_ptr<LoopHandle> timer;
    };

    void start(SourceSink& sink) {
        sink_ = &sink;
        const auto bases = sink.bases();
        for (std::size_t i = 0; i < bases.size(); ++i) {
            for (const TransportAddress& server : options_.servers) {
                if (server.ip.family() != bases[i].local.ip.family()) {
                    continue; // RFC 8489: IPv4 servers from IPv4 bases, IPv6 from IPv6
                }
                auto t = std::make_unique<Transaction>();
                t->base_index = i;
                t->fd = bases[i].fd;
                t->server = server;
                t->server_text = server.to_string();
                transactions_.push_back(std::move(t));
            }
        }
        if (transactions_.size() > kMaxTransactions) {
            // libnice's agent remembers STUN_AGENT_MAX_SAVED_IDS transactions; more would be
            // sent but their answers never recognised.
            transactions_.clear();
            finish({SourceState::Failed, "more base×server pairs than the " +
                                             std::to_string(kMaxTransactions) +
                                             " libnice's STUN agent can track; use fewer"});
            return;
        }
        if (transactions_.empty()) {
            finish({SourceState::Failed, options_.servers.empty()
                                             ? "no STUN server configured"
                                             : "no base of a STUN server's address family"});
            return;
        }
        // One read watch per socket: answers for every server arrive there.
        for (const auto& t : transactions_) {
            if (!watches_.contains(t->fd)) {
                const int fd = t->fd;
                watches_[fd] = sink.loop().watch_readable(fd, [this, fd] { on_readable(fd); });
            }
        }
        give_up_ = sink.loop().call_after(options_.give_up_after, [this] { on_give_up(); });
        for (const auto& t : transactions_) {
            begin(*t);
            if (!sink_) {
                return; // finished (a send failed everywhere)
            }
        }
    }

    void stop() {
        give_up_.reset();
        watches_.clear();
        transactions_.clear();
        sink_ = nullptr;
    }

private:
    void begin(Transaction& t) {
        t.length = stun_usage_bind_create(&agent_, &t.message, t.buffer.data(), t.buffer.size());
        stun_message_id(&t.message, t.id);
        t.sends = 0;
        t.rto = options_.initial_rto;
        send(t);
    }

    void send(Transaction& t) {
        sockaddr_storage to{};
        const socklen_t length = detail::to_sockaddr(t.server, to);
        ++t.sends;
        if (::sendto(t.fd, t.buffer.data(), t.length, 0, reinterpret_cast<sockaddr*>(&to), length) <
            0) {
            complete(t, "cannot send to " + t.server_text + ": " + std::strerror(errno));
            return;
        }
        if (t.sends <= options_.retransmissions) {
            // RFC 8489 §6.2.1: retransmit after RTO, doubling it each time.
            t.timer = sink_->loop().call_after(t.rto, [this, &t] {
                t.timer.reset();
                t.rto *= 2;
                send(t);
            });
        }
    }

    void on_readable(int fd) {
        for (;;) {
            std::array<std::uint8_t, STUN_MAX_MESSAGE_SIZE_IPV6> buffer{};
            sockaddr_storage from{};
            socklen_t from_length = sizeof from;
            const ssize_t got = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                           reinterpret_cast<sockaddr*>(&from), &from_length);
            if (got <= 0) {
                return;
            }
            handle(fd, std::span(buffer.data(), static_cast<std::size_t>(got)), from);
            if (!sink_) {
                return;
            }
        }
    }

    // A datagram on a base socket: a response to one of our transactions, or ignored.
    void handle(int fd, std::span<const std::uint8_t> datagram, const sockaddr_storage& from) {
        // Our checks come first: libnice forgets a transaction as soon as any response to it
        // validates, so a forged or broken one must never reach its agent.
        if (!stun::is_binding_response(datagram)) {
            return; // not STUN, not a Binding response, or truncated
        }
        const auto cookie_and_id =
            datagram.subspan(stun::kCookieAndIdOffset, stun::kCookieAndIdSize);
        Transaction* t = nullptr;
        for (const auto& candidate : transactions_) {
            if (!candidate->done && candidate->fd == fd &&
                std::memcmp(candidate->id, cookie_and_id.data(), cookie_and_id.size()) == 0) {
                t = candidate.get();
            }
        }
        const auto source = detail::from_sockaddr(from);
        if (!t || !source || *source != t->server) {
            return; // a transaction we never sent, or not from the server we asked
        }
        const stun::BindingAnswer answer = stun::read_binding_answer(agent_, datagram);
        switch (answer.kind) {
        case stun::BindingAnswer::Kind::Ignored:
            return;
        case stun::BindingAnswer::Kind::Mapped:
            // Report first: completing the last transaction finishes (and clears) the source.
            sink_->add_candidate({IceType::Srflx, answer.address, t->base_index, t->server_text});
            report_external(answer.address, t->server_text);
            complete(*t, {});
            return;
        case stun::BindingAnswer::Kind::Alternate:
            if (t->followed_alternate || answer.address.ip.family() != t->server.ip.family()) {
                complete(*t, t->server_text + " redirected again or to an unusable address");
                return;
            }
            // RFC 8489 §10: try the alternate server once, as a new transaction.
            t->followed_alternate = true;
            t->timer.reset();
            t->server = answer.address;
            begin(*t);
            return;
        case stun::BindingAnswer::Kind::Failed:
            complete(*t, t->server_text + answer.failure);
            return;
        }
    }

    void report_external(const TransportAddress& mapped, const std::string& server) {
        if (reported_.insert(mapped.ip.to_string() + " " + server).second) {
            ExternalAddress found{mapped.ip, mapped.port, std::nullopt, {"stun", server}};
            found.ice_candidates_reported = true;
            sink_->add_external_address(found);
        }
    }

    void complete(Transaction& t, const std::string& failure) {
        end(t);
        if (!failure.empty()) {
            failures_.push_back(failure);
        } else {
            ++successes_;
            if (options_.completion == StunCompletion::FirstMappingPerBase) {
                // The base has its mapping: its other servers are not waited for.
                for (const auto& other : transactions_) {
                    if (!other->done && other->base_index == t.base_index) {
                        end(*other);
                    }
                }
            }
        }
        maybe_finish();
    }

    void end(Transaction& t) {
        t.done = true;
        t.timer.reset();
        stun_agent_forget_transaction(&agent_, t.id);
    }

    void on_give_up() {
        give_up_.reset();
        std::string silent;
        for (const auto& t : transactions_) {
            if (!t->done) {
                end(*t);
                if (silent.find(t->server_text) == std::string::npos) {
                    silent += (silent.empty() ? "" : ", ") + t->server_text;
                }
            }
        }
        if (!silent.empty()) {
            timed_out_ = "no answer from " + silent + " within " +
                         std::to_string(options_.give_up_after.count()) + " ms";
        }
        maybe_finish();
    }

    void maybe_finish() {
        for (const auto& t : transactions_) {
            if (!t->done) {
                return;
            }
        }
        std::string why = timed_out_;
        for (const std::string& f : failures_) {
            why += (why.empty() ? "" : "; ") + f;
        }
        if (successes_ > 0 && why.empty()) {
            finish(SourceStatus::ok());
        } else if (successes_ > 0) {
            finish({SourceState::Ok, why}); // some answered: ok, with what did not
        } else if (!timed_out_.empty()) {
            finish({SourceState::TimedOut, why});
        } else {
            finish({SourceState::Failed, why});
        }
    }

    void finish(SourceStatus status) {
        SourceSink* sink = sink_;
        stop();
        if (sink) {
            sink->finish(std::move(status));
        }
    }

    StunOptions options_;
    StunAgent agent_{};
    SourceSink* sink_ = nullptr;
    std::vector<std::unique_ptr<Transaction>> transactions_;
    std::map<int, std::unique_ptr<LoopHandle>> watches_;
    std::unique_ptr<LoopHandle> give_up_;
    std::set<std::string> reported_;
    std::vector<std::string> failures_;
    std::string timed_out_;
    unsigned successes_ = 0;
};

StunSource::StunSource(StunOptions options) : d_(std::make_unique<Private>(std::move(options))) {}

StunSource::~StunSource() {
    d_->stop();
}

Result<TransportAddress> StunSource::parse_server(std::string_view text) {
    std::string_view host = text;
    std::uint16_t port = kDefaultStunPort;
    std::string_view digits;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return Error{"STUN server '" + std::string(text) + "': missing ']'"};
        }
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') {
                return Error{"STUN server '" + std::string(text) + "': expected [IPv6]:PORT"};
            }
            digits = text.substr(close + 2);
        }
    } else if (text.find(':') != std::string_view::npos && text.find(':') == text.rfind(':')) {
        host = text.substr(0, text.find(':'));
        digits = text.substr(text.find(':') + 1);
    }
    if (!digits.empty() || (host.size() != text.size() && text.front() != '[')) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
            value < 1 || value > 65535) {
            return Error{"STUN server '" + std::string(text) + "': port is not 1-65535"};
        }
        port = static_cast<std::uint16_t>(value);
    }
    auto ip = IpAddress::parse(host);
    if (!ip) {
        return Error{"STUN server: " + ip.error().message + " (give a literal IP)"};
    }
    return TransportAddress{ip->unmapped(), port};
}

std::string StunSource::name() const {
    return "stun";
}

void StunSource::start(SourceSink& sink) {
    d_->start(sink);
}

void StunSource::stop() {
    d_->stop();
}

} // namespace jgather
