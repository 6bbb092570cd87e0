// STUN Binding per base and server, on libnice's STUN message code; never the blocking
// stun_usage_bind_run(): sends, retransmissions and reads all run on the caller's loop, and the
// datagrams go through the gatherer (SourceSink), whoever owns the sockets.
#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <jgather/sources/stun.hpp>

#include "../loop/multiplex.hpp"
#include "../util/netns.hpp"
#include "server_health.hpp"
#include "stun_message.hpp"
#include "stun_pacer.hpp"

namespace jgather {
namespace {

using Clock = std::chrono::steady_clock;

// RFC 8489 §18.1: the default port for STUN over UDP.
constexpr std::uint16_t kDefaultStunPort = 3478;

// RFC 8445 §14.2: Ta is never configured below 5 ms.
constexpr std::chrono::milliseconds kMinimumPacing{5};

std::string ms(std::chrono::milliseconds value) {
    return std::to_string(value.count()) + " ms";
}

} // namespace

Result<void> StunOptions::validate() const {
    for (const TransportAddress& server : servers) {
        if (server.port == 0) {
            return Error{"StunOptions::servers: " + server.to_string() + " has no port"};
        }
        if (auto problem = remote_address_problem(server.ip)) {
            return Error{"StunOptions::servers: " + *problem};
        }
    }
    if (pacing < kMinimumPacing) {
        return Error{"StunOptions::pacing " + ms(pacing) + " is below RFC 8445 §14.2's " +
                     ms(kMinimumPacing) + " minimum"};
    }
    if (initial_rto.count() <= 0) {
        return Error{"StunOptions::initial_rto must be positive"};
    }
    if (final_wait.count() <= 0) {
        return Error{"StunOptions::final_wait must be positive"};
    }
    if (remember_silence.count() < 0 || probe_interval.count() < 0) {
        return Error{"StunOptions::remember_silence and probe_interval must not be negative"};
    }
    if (retransmissions > 16) {
        return Error{"StunOptions::retransmissions " + std::to_string(retransmissions) +
                     " is more than 16; RFC 8489 §6.2.1 recommends 6 sends in all"};
    }
    return {};
}

std::chrono::milliseconds StunOptions::last_send_at(std::size_t transactions) const {
    // RFC 8489 §6.2.1: sends at 0, RTO, 3·RTO, ... the last one at (2^n − 1)·RTO.
    const auto retransmitting = initial_rto * ((1LL << retransmissions) - 1);
    const auto started = pacing * static_cast<long long>(transactions > 0 ? transactions - 1 : 0);
    return started + retransmitting;
}

std::chrono::milliseconds StunOptions::give_up_at(std::size_t transactions) const {
    return last_send_at(transactions) + final_wait;
}

class StunSource::Private {
public:
    explicit Private(StunOptions options) : options_(std::move(options)) {}

    struct Transaction {
        enum class State { Queued, Active, Done };
        std::size_t base_index = 0;
        TransportAddress server;
        TransportAddress configured; // the server as configured (server may be an alternate)
        std::string server_text; // the configured server: the foundation input and origin
        stun::BindingRequest request; // built when the transaction begins
        unsigned sends = 0;
        std::chrono::milliseconds rto{};
        Clock::time_point first_sent{};
        State state = State::Queued;
        bool followed_alternate = false;
        std::unique_ptr<LoopHandle> timer; // the next retransmission, then the give-up
    };

    void start(SourceSink& sink) {
        sink_ = &sink;
        if (auto valid = options_.validate(); !valid) {
            finish({SourceState::Failed, valid.error().message});
            return;
        }
        const auto bases = sink.bases();
        auto& health = detail::ServerHealth::instance();
        netns_ = detail::netns_of(sink); // once: the memory is per namespace
        // "First the first server of each base": server-major order, paced by Ta.
        for (const TransportAddress& server : options_.servers) {
            if (options_.remember_silence.count() > 0) {
                if (auto silence = health.silent(netns_, server)) {
                    // Known silent: not waited for again; probed in the background instead.
                    skipped_.push_back(server.to_string() + " skipped: no answer " +
                                       ms(silence->ago) + " ago (remembered " + ms(silence->left) +
                                       " more; probed in the background)");
                    // On the caller's loop itself: the probe outlives this gathering.
                    health.probe(detail::MultiplexLoop::base_of(sink.loop()), server,
                                 options_.probe_interval, options_.final_wait);
                    continue;
                }
            }
            for (std::size_t i = 0; i < bases.size(); ++i) {
                if (server.ip.family() != bases[i].local.ip.family()) {
                    continue; // RFC 8489: IPv4 servers from IPv4 bases, IPv6 from IPv6
                }
                auto t = std::make_unique<Transaction>();
                t->base_index = i;
                t->server = server;
                t->configured = server;
                t->server_text = server.to_string();
                queue_.push_back(t.get());
                transactions_.push_back(std::move(t));
            }
        }
        if (transactions_.empty()) {
            finish({SourceState::Failed, options_.servers.empty() ? "no STUN server configured"
                                         : !skipped_.empty()      ? joined(skipped_)
                                                                  : no_base_reason(sink)});
            return;
        }
        // The schedule must fit in the gathering, or a configured send would never happen; with
        // the loop's pacer, after the turns already asked for by other gatherings.
        std::chrono::milliseconds turn_wait{0};
        if (options_.pacing_scope == StunPacingScope::Loop) {
            loop_pacer_ = detail::StunPacer::of(sink.loop());
            turn_wait = loop_pacer_->wait_now();
        }
        const auto last_send = turn_wait + options_.last_send_at(transactions_.size());
        if (last_send >= sink.time_left()) {
            std::string waiting;
            if (turn_wait.count() > 0) {
                waiting = " after waiting " + ms(turn_wait) + " for its turn behind " +
                          std::to_string(loop_pacer_->waiting()) +
                          " transactions of other gatherings on this loop (RFC 8445 §14.2: "
                          "together one every 5 ms; StunOptions::pacing_scope),";
            }
            finish({SourceState::Failed,
                    "the last STUN send would be at " + ms(last_send) + waiting + " (" +
                        std::to_string(transactions_.size()) + " transactions " +
                        ms(options_.pacing) + " apart, " +
                        std::to_string(options_.retransmissions) + " retransmissions from RTO " +
                        ms(options_.initial_rto) + "), after the gathering's deadline in " +
                        ms(sink.time_left()) + ": the deadline wins; raise it or send less"});
            return;
        }
        sink.receive_datagrams([this](const Datagram& d) { return on_datagram(d); });
        pace();
    }

    void stop() {
        ta_timer_.reset();
        turn_.reset();
        queue_.clear();
        transactions_.clear();
        sink_ = nullptr;
    }

private:
    // Why no base can ask the servers: none is of their families; and where an address of such
    // a family could not be opened, the system's reason (out of descriptors, say), which is the
    // real cause.
    std::string no_base_reason(const SourceSink& sink) const {
        std::string text = "no base of a STUN server's address family";
        for (const DroppedAddress& d : sink.unbound()) {
            const auto ip = IpAddress::parse(d.address);
            const bool of_a_server =
                ip && std::any_of(
                          options_.servers.begin(), options_.servers.end(),
                          [&](const TransportAddress& s) { return s.ip.family() == ip->family(); });
            if (of_a_server) {
                text += "; " + d.address + " could not be opened: " + d.reason;
            }
        }
        return text;
    }

    // Drops the queued transactions that ended before their turn (FirstMappingPerBase);
    // true when one is left to start.
    bool next_queued() {
        while (!queue_.empty() && queue_.front()->state != Transaction::State::Queued) {
            queue_.erase(queue_.begin());
        }
        return !queue_.empty();
    }

    // Starts the next queued transaction if Ta has passed since the last one started and, with
    // the loop's pacer, once it is the gathering's turn on the loop.
    void pace() {
        ta_timer_.reset();
        if (turn_ || !next_queued()) {
            return; // waiting for the loop's turn already, or nothing to start
        }
        const auto now = Clock::now();
        const auto due = last_start_ + options_.pacing;
        if (started_any_ && now < due) {
            ta_timer_ = sink_->loop().call_after(
                std::chrono::ceil<std::chrono::milliseconds>(due - now), [this] { pace(); });
            return;
        }
        if (loop_pacer_ && !loop_pacer_->start_now()) {
            turn_ = loop_pacer_->wait_turn([this] {
                turn_.reset();
                if (next_queued()) {
                    start_next(Clock::now());
                }
            });
            return;
        }
        start_next(now);
    }

    void start_next(Clock::time_point now) {
        Transaction& t = *queue_.front();
        queue_.erase(queue_.begin());
        started_any_ = true;
        last_start_ = now;
        begin(t);
        if (sink_ && !queue_.empty()) {
            ta_timer_ = sink_->loop().call_after(options_.pacing, [this] { pace(); });
        }
    }

    void begin(Transaction& t) {
        t.state = Transaction::State::Active;
        t.request = stun::make_binding_request();
        t.sends = 0;
        // RFC 8489 §6.2.1: start from the RTO learned for this server, never below the
        // configured one (RFC 8445 §14.3's floor during gathering).
        t.rto = std::max(
            options_.initial_rto,
            detail::ServerHealth::instance().rto(netns_, t.server).value_or(options_.initial_rto));
        t.first_sent = Clock::now();
        send(t);
    }

    void send(Transaction& t) {
        ++t.sends;
        if (t.request.length == 0) {
            complete(t, "libnice could not build a Binding request");
            return;
        }
        if (auto sent = sink_->send_datagram(
                t.base_index, std::span(t.request.bytes.data(), t.request.length), t.server);
            !sent) {
            complete(t, sent.error().message);
            return;
        }
        if (t.sends <= options_.retransmissions) {
            // RFC 8489 §6.2.1: retransmit after RTO, doubling it each time.
            t.timer = sink_->loop().call_after(t.rto, [this, &t] {
                t.rto *= 2;
                send(t);
            });
        } else {
            t.timer = sink_->loop().call_after(options_.final_wait, [this, &t] { give_up(t); });
        }
    }

    // A datagram on a base: ours when it is a Binding response with one of our transaction ids
    // on the base that asked; used only when it is also from the server and intact.
    bool on_datagram(const Datagram& d) {
        // Our checks come first: libnice forgets a transaction as soon as any response to it
        // validates, so a forged or broken one must never reach its agent.
        if (!stun::is_binding_response(d.data)) {
            return false; // not STUN, not a Binding response, or truncated: not ours
        }
        const auto cookie_and_id = d.data.subspan(stun::kCookieAndIdOffset, stun::kCookieAndIdSize);
        Transaction* t = nullptr;
        for (const auto& candidate : transactions_) {
            if (candidate->state == Transaction::State::Active &&
                candidate->base_index == d.base_index &&
                std::memcmp(candidate->request.id.data(), cookie_and_id.data(),
                            cookie_and_id.size()) == 0) {
                t = candidate.get();
            }
        }
        if (!t) {
            return false; // a transaction we never sent (or already ended)
        }
        if (d.from != t->server) {
            return true; // our id from elsewhere: forged or misrouted, and ignored
        }
        const stun::BindingAnswer answer = stun::read_binding_answer(t->request.id, d.data);
        if (answer.kind != stun::BindingAnswer::Kind::Ignored) {
            if (std::find(answered_.begin(), answered_.end(), t->configured) == answered_.end()) {
                answered_.push_back(t->configured); // it is there, whatever it said
            }
            auto& health = detail::ServerHealth::instance();
            health.answered(netns_, t->configured);
            if (t->sends == 1) { // Karn's algorithm: no sample from a retransmitted request
                health.measured(netns_, t->server,
                                std::chrono::duration_cast<std::chrono::microseconds>(
                                    Clock::now() - t->first_sent));
            }
        }
        switch (answer.kind) {
        case stun::BindingAnswer::Kind::Ignored:
            return true;
        case stun::BindingAnswer::Kind::Mapped:
            on_mapped(*t, answer.address);
            return true;
        case stun::BindingAnswer::Kind::Alternate:
            if (t->followed_alternate || answer.address.ip.family() != t->server.ip.family() ||
                remote_address_problem(answer.address.ip) || answer.address.port == 0) {
                complete(*t, t->server_text + " redirected again or to an unusable address");
                return true;
            }
            // RFC 8489 §10: try the alternate server once, as a new (paced) transaction.
            t->followed_alternate = true;
            t->timer.reset();
            t->server = answer.address;
            t->state = Transaction::State::Queued;
            queue_.insert(queue_.begin(), t);
            pace();
            return true;
        case stun::BindingAnswer::Kind::Failed:
            complete(*t, t->server_text + answer.failure);
            return true;
        }
        return true;
    }

    void on_mapped(Transaction& t, const TransportAddress& mapped) {
        const Base& base = sink_->bases()[t.base_index];
        if (mapped.ip.family() != base.local.ip.family()) {
            complete(t, t.server_text + " answered " + mapped.to_string() + " to the " +
                            (base.local.ip.family() == Family::IPv4 ? "IPv4" : "IPv6") + " base " +
                            base.address().to_string() + ": a mapping is of its base's family");
            return;
        }
        const auto locals = sink_->local_addresses();
        const bool local = std::any_of(locals.begin(), locals.end(),
                                       [&](const LocalAddress& l) { return l.ip == mapped.ip; });
        // A local address means no NAT (a server on this host answers with loopback, say).
        if (auto problem = external_address_problem(mapped.ip); problem && !local) {
            complete(t, t.server_text + " answered " + mapped.to_string() + ": " + *problem +
                            ", which cannot be a mapping");
            return;
        }
        if (mapped.port == 0) {
            complete(t, t.server_text + " answered a mapping with port 0");
            return;
        }
        // Report first: completing the last transaction finishes (and clears) the source.
        SourceSink* sink = sink_;
        sink->add_candidate({IceType::Srflx, mapped, t.base_index, t.server_text, {}});
        if (sink_ != sink) {
            return; // the gatherer refused it and stopped us
        }
        const std::pair<IpAddress, TransportAddress> learned{mapped.ip, t.configured};
        if (std::find(reported_.begin(), reported_.end(), learned) == reported_.end()) {
            reported_.push_back(learned);
            ExternalAddress found{mapped.ip, mapped.port, std::nullopt, {"stun", t.server_text}};
            found.ice_candidates_reported = true;
            sink->add_external_address(found);
        }
        complete(t, {});
    }

    // Servers that answered none of this gathering's requests (every base gave up on them) are
    // remembered silent: the next gathering does not wait for them.
    void remember_silent_servers() {
        auto& health = detail::ServerHealth::instance();
        for (const std::string& server : silent_) {
            for (const auto& t : transactions_) {
                if (t->server_text == server) {
                    if (std::find(answered_.begin(), answered_.end(), t->configured) ==
                        answered_.end()) {
                        health.timed_out(netns_, t->configured, options_.remember_silence);
                    }
                    break;
                }
            }
        }
    }

    static std::string joined(const std::vector<std::string>& parts) {
        std::string text;
        for (const std::string& part : parts) {
            text += (text.empty() ? "" : "; ") + part;
        }
        return text;
    }

    void give_up(Transaction& t) {
        if (std::find(silent_.begin(), silent_.end(), t.server_text) == silent_.end()) {
            silent_.push_back(t.server_text);
        }
        end(t);
        maybe_finish();
    }

    void complete(Transaction& t, const std::string& failure) {
        end(t);
        if (!failure.empty()) {
            failures_.push_back(failure);
        } else {
            ++successes_;
            if (options_.completion == StunCompletion::FirstMappingPerBase) {
                // The base has its mapping: its other servers are not waited for (or asked).
                for (const auto& other : transactions_) {
                    if (other->state != Transaction::State::Done &&
                        other->base_index == t.base_index) {
                        end(*other);
                    }
                }
            }
        }
        maybe_finish();
    }

    void end(Transaction& t) {
        t.state = Transaction::State::Done;
        t.timer.reset();
    }

    void maybe_finish() {
        if (!sink_) {
            return;
        }
        for (const auto& t : transactions_) {
            if (t->state != Transaction::State::Done) {
                return;
            }
        }
        remember_silent_servers();
        std::string why;
        if (!silent_.empty()) {
            why = "no answer from";
            for (std::size_t i = 0; i < silent_.size(); ++i) {
                why += (i ? ", " : " ") + silent_[i];
            }
            why += " within " + ms(options_.final_wait) + " of the last send";
        }
        for (const std::string& f : failures_) {
            why += (why.empty() ? "" : "; ") + f;
        }
        for (const std::string& s : skipped_) {
            why += (why.empty() ? "" : "; ") + s;
        }
        if (successes_ > 0) {
            finish({SourceState::Ok, why}); // some answered: ok, with what did not
        } else if (!silent_.empty()) {
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
    SourceSink* sink_ = nullptr;
    std::vector<std::unique_ptr<Transaction>> transactions_;
    // Not yet started, in pacing order: a vector (one per base and server, a handful), not a
    // deque, whose first push allocates a map and a 512-byte block.
    std::vector<Transaction*> queue_;
    std::unique_ptr<LoopHandle> ta_timer_;          // this gathering's own Ta until its next start
    std::shared_ptr<detail::StunPacer> loop_pacer_; // with StunPacingScope::Loop
    std::unique_ptr<LoopHandle> turn_;              // the turn asked of it, until it comes
    Clock::time_point last_start_{};
    bool started_any_ = false;
    // (mapping, configured server) pairs already reported as external addresses: a few at most.
    std::vector<std::pair<IpAddress, TransportAddress>> reported_;
    std::vector<std::string> failures_;
    std::vector<std::string> silent_;
    std::vector<std::string> skipped_; // servers remembered silent, not asked
    std::vector<TransportAddress> answered_; // configured servers that answered anything
    detail::ServerHealth::Namespace netns_{};
    unsigned successes_ = 0;
};

StunSource::StunSource(StunOptions options) : d_(std::make_unique<Private>(std::move(options))) {}

StunSource::~StunSource() {
    d_->stop();
}

Result<TransportAddress> StunSource::parse_server(std::string_view text) {
    auto parsed = TransportAddress::parse(text, kDefaultStunPort);
    if (!parsed) {
        return Error{"STUN server " + parsed.error().message + " (give a literal IP)"};
    }
    return parsed;
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
