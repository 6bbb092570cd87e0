// The candidate connector: staggered parallel attempts (RFC 8305 §5's pattern, applied to
// XEP-0260 §2.4's candidate order), each a non-blocking connect and a SOCKS5 handshake.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <utility>

#include <jgather/s5b.hpp>

#include "../util/guard.hpp"
#include "../util/sockaddr.hpp"
#include "../util/unique_fd.hpp"
#include "io.hpp"
#include "socks5.hpp"

namespace jgather::s5b {

using detail::UniqueFd;
using Clock = std::chrono::steady_clock;

namespace {

std::chrono::milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::string where(const Candidate& candidate) {
    const bool v6 = candidate.host.find(':') != std::string::npos;
    return (v6 ? "[" + candidate.host + "]" : candidate.host) + ":" +
           std::to_string(candidate.port);
}

} // namespace

class Connector::Private {
public:
    Private(Connector& owner, EventLoop& loop, std::vector<Candidate> candidates,
            ConnectOptions options)
        : owner_(owner), loop_(loop), options_(std::move(options)) {
        for (Candidate& candidate : candidates) {
            if (candidate.transport() == TransportKind::Socks5) {
                Attempt attempt;
                attempt.candidate = std::move(candidate);
                report_.attempts.push_back(std::move(attempt));
            }
        }
        // XEP-0260 §2.4: in order of priority; equal priorities keep the peer's order.
        std::stable_sort(report_.attempts.begin(), report_.attempts.end(),
                         [](const Attempt& a, const Attempt& b) {
                             return a.candidate.priority > b.candidate.priority;
                         });
        live_.resize(report_.attempts.size());
    }

    Result<void> start() {
        if (started_) {
            return Error{"s5b::Connector: already started"};
        }
        if (options_.dstaddr.size() != kDstAddrLength) {
            return Error{"s5b::Connector: DST.ADDR must be " + std::to_string(kDstAddrLength) +
                         " characters (XEP-0065 §5.3.2 SHA-1 hex), got " +
                         std::to_string(options_.dstaddr.size())};
        }
        if (report_.attempts.empty()) {
            return Error{"s5b::Connector: no SOCKS5 candidate to try"};
        }
        if (options_.stagger.count() <= 0 || options_.attempt_timeout.count() <= 0 ||
            options_.deadline.count() < 0) {
            return Error{"s5b::Connector: stagger and attempt_timeout must be positive, deadline "
                         "not negative"};
        }
        started_ = true;
        start_time_ = Clock::now();
        // The first connect() starts now (it cannot call back: every report goes through the
        // loop), which saves a turn of the loop on the fastest path.
        launch_next();
        if (options_.deadline.count() > 0) {
            deadline_timer_ = loop_.call_after(options_.deadline, [this] { give_up(); });
        }
        return {};
    }

    void stop(const std::string& reason) {
        if (!started_ || finished_) {
            return;
        }
        stop_reason_ = reason;
        for (std::size_t i = 0; i < live_.size(); ++i) {
            if (live_[i].active) {
                end(i, AttemptResult::Abandoned, reason);
            }
        }
        finish();
    }

private:
    enum class Phase { Connecting, Greeting, Request };
    struct Live {
        bool active = false;              // launched, not ended
        std::vector<IpAddress> addresses; // still to dial (a host name's)
        UniqueFd fd;
        Phase phase = Phase::Connecting;
        std::string in;
        std::unique_ptr<LoopHandle> watch;
        std::unique_ptr<LoopHandle> timer;
    };

    // Starts the next candidate; one whose attempt fails at once makes room for the next.
    void launch_next() {
        stagger_timer_.reset();
        while (!finished_ && next_ < report_.attempts.size()) {
            const std::size_t index = next_++;
            if (launch(index)) {
                if (next_ < report_.attempts.size()) {
                    stagger_timer_ = loop_.call_after(options_.stagger, [this] { launch_next(); });
                }
                return;
            }
        }
        finish_if_exhausted();
    }

    // Starts attempt @p index: a literal IP is dialled now, a host name resolved first (when a
    // resolver was given). False when it failed at once.
    bool launch(std::size_t index) {
        Attempt& attempt = report_.attempts[index];
        Live& live = live_[index];
        attempt.started = since(start_time_);
        live.active = true;
        ++pending_;
        live.timer = loop_.call_after(options_.attempt_timeout, [this, index] {
            end(index, AttemptResult::TimedOut,
                "no connection and SOCKS5 handshake within " +
                    std::to_string(options_.attempt_timeout.count()) + " ms");
            after_failure();
        });
        if (const auto ip = attempt.candidate.ip()) {
            live.addresses = {*ip};
            return dial(index);
        }
        if (!options_.resolve) {
            end(index, AttemptResult::Failed,
                "host \"" + attempt.candidate.host +
                    "\" is not a literal IP address (no ConnectOptions::resolve given)");
            return false;
        }
        live.watch =
            options_.resolve(attempt.candidate.host,
                             [this, index](std::vector<IpAddress> addresses, std::string error) {
                                 resolved(index, std::move(addresses), std::move(error));
                             });
        return true;
    }

    void resolved(std::size_t index, std::vector<IpAddress> addresses, std::string error) {
        Live& live = live_[index];
        if (!live.active) {
            return; // ended meanwhile (a resolver that answers after its handle died)
        }
        if (addresses.empty()) {
            fail(index, "host name \"" + report_.attempts[index].candidate.host +
                            "\" did not resolve" + (error.empty() ? "" : ": " + error));
            return;
        }
        live.addresses = std::move(addresses);
        if (!dial(index)) {
            after_failure();
        }
    }

    // Connects to the next of the attempt's addresses; false (the attempt ended) when none is
    // left that could be dialled.
    bool dial(std::size_t index) {
        Live& live = live_[index];
        std::string why;
        while (!live.addresses.empty()) {
            const IpAddress ip = live.addresses.front();
            live.addresses.erase(live.addresses.begin());
            sockaddr_storage address{};
            const socklen_t length = detail::to_sockaddr(
                TransportAddress{ip, report_.attempts[index].candidate.port}, address);
            live.fd.reset(
                ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (!live.fd.valid()) {
                why = std::string("socket: ") + std::strerror(errno);
                continue;
            }
            if (::connect(live.fd.get(), reinterpret_cast<const sockaddr*>(&address), length) !=
                    0 &&
                errno != EINPROGRESS) {
                why = "connect to " + ip.to_string() + ": " + std::strerror(errno);
                live.fd.reset();
                continue;
            }
            live.watch = loop_.watch_writable(live.fd.get(), [this, index] { connected(index); });
            return true;
        }
        end(index, AttemptResult::Failed, why);
        return false;
    }

    void connected(std::size_t index) {
        Live& live = live_[index];
        int error = 0;
        socklen_t size = sizeof error;
        if (::getsockopt(live.fd.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
            error = errno;
        }
        if (error != 0) {
            live.fd.reset();
            live.watch.reset();
            if (!live.addresses.empty() && dial(index)) {
                return; // a host name's next address
            }
            if (live.active) {
                end(index, AttemptResult::Failed, std::string("connect: ") + std::strerror(error));
            }
            after_failure();
            return;
        }
        if (!detail::socks5::write_message(live.fd.get(), detail::socks5::greeting())) {
            fail(index, std::string("send greeting: ") + std::strerror(errno));
            return;
        }
        live.phase = Phase::Greeting;
        live.watch = loop_.watch_readable(live.fd.get(), [this, index] { readable(index); });
    }

    void readable(std::size_t index) {
        namespace socks5 = detail::socks5;
        Live& live = live_[index];
        const bool greeting = live.phase == Phase::Greeting;
        const auto state =
            socks5::read_message(live.fd.get(), live.in, [greeting](std::string_view have) {
                return greeting ? socks5::kMethodSelectionLength : socks5::request_length(have);
            });
        if (state == socks5::ReadState::Pending) {
            return;
        }
        if (state != socks5::ReadState::Complete) {
            fail(index, state == socks5::ReadState::Closed
                            ? "the SOCKS5 server closed the connection during the handshake"
                            : std::string("recv: ") + std::strerror(errno));
            return;
        }
        if (greeting) {
            if (auto selected = socks5::read_method_selection(live.in); !selected) {
                fail(index, selected.error().message);
                return;
            }
            live.in.clear();
            if (!socks5::write_message(live.fd.get(), socks5::connect_request(options_.dstaddr))) {
                fail(index, std::string("send CONNECT: ") + std::strerror(errno));
                return;
            }
            live.phase = Phase::Request;
            return;
        }
        if (auto replied = socks5::read_reply(live.in, options_.dstaddr); !replied) {
            fail(index, replied.error().message);
            return;
        }
        win(index);
    }

    void fail(std::size_t index, std::string reason) {
        end(index, AttemptResult::Failed, std::move(reason));
        after_failure();
    }

    // RFC 8305 §5: a failed attempt lets the next one start without waiting for the stagger.
    void after_failure() {
        if (finished_) {
            return;
        }
        if (next_ < report_.attempts.size()) {
            // Deferred: this may run inside the failed attempt's own callback.
            stagger_timer_ =
                loop_.call_after(std::chrono::milliseconds(0), [this] { launch_next(); });
            return;
        }
        finish_if_exhausted();
    }

    // Ends attempt @p index; its socket and handles go (safe from inside their callbacks: the
    // loop contract lets a handle die in its own callback).
    void end(std::size_t index, AttemptResult result, std::string reason) {
        Attempt& attempt = report_.attempts[index];
        Live& live = live_[index];
        if (live.active) {
            --pending_;
        }
        live.active = false;
        attempt.result = result;
        attempt.reason = std::move(reason);
        attempt.elapsed = since(start_time_) - attempt.started;
        live.watch.reset();
        live.timer.reset();
        live.fd.reset();
    }

    void win(std::size_t index) {
        Live& live = live_[index];
        Attempt& attempt = report_.attempts[index];
        attempt.result = AttemptResult::Connected;
        attempt.elapsed = since(start_time_) - attempt.started;
        report_.winner = index;
        report_.socket = Socket(live.fd.release());
        live.active = false;
        --pending_;
        live.watch.reset();
        live.timer.reset();
        finish();
    }

    void give_up() {
        deadline_timer_.reset();
        for (std::size_t i = 0; i < live_.size(); ++i) {
            if (live_[i].active) {
                end(i, AttemptResult::TimedOut,
                    "still pending at the deadline of " +
                        std::to_string(options_.deadline.count()) + " ms");
            }
        }
        finish();
    }

    void finish_if_exhausted() {
        if (!finished_ && pending_ == 0 && next_ >= report_.attempts.size()) {
            finish();
        }
    }

    // Closes what is pending, marks what never ran, and reports from the loop.
    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        stagger_timer_.reset();
        deadline_timer_.reset();
        for (std::size_t i = 0; i < live_.size(); ++i) {
            Attempt& attempt = report_.attempts[i];
            if (live_[i].active) {
                end(i, AttemptResult::Abandoned, "another candidate connected first");
            } else if (i >= next_) {
                attempt.result = AttemptResult::NotTried;
                attempt.reason = report_.winner          ? "another candidate connected first"
                                 : !stop_reason_.empty() ? stop_reason_
                                                         : "the deadline passed before its turn";
            }
        }
        report_.elapsed = since(start_time_);
        if (!report_.winner) {
            report_.error = "no SOCKS5 candidate connected:";
            for (const Attempt& attempt : report_.attempts) {
                report_.error += " " + where(attempt.candidate) + " " +
                                 std::string(to_string(attempt.result)) +
                                 (attempt.reason.empty() ? "" : " (" + attempt.reason + ")") + ";";
            }
            report_.error.pop_back();
        }
        delivery_ = loop_.call_after(std::chrono::milliseconds(0), [this] { deliver(); });
    }

    void deliver() {
        // The callback may destroy the connector: take everything first, touch nothing after.
        const auto callback = owner_.on_done; // a copy outlives the connector
        ConnectReport report = std::move(report_);
        const auto self_delivery = std::move(delivery_);
        if (callback) {
            // An application's exception stops here; it must not unwind into the loop.
            (void)detail::contain([&] { callback(std::move(report)); });
        }
    }

    Connector& owner_;
    EventLoop& loop_;
    ConnectOptions options_;
    ConnectReport report_;
    std::vector<Live> live_;
    std::size_t next_ = 0;
    std::size_t pending_ = 0;
    bool started_ = false;
    bool finished_ = false;
    std::string stop_reason_; // stop()'s, for what it ended
    Clock::time_point start_time_;
    std::unique_ptr<LoopHandle> stagger_timer_;
    std::unique_ptr<LoopHandle> deadline_timer_;
    std::unique_ptr<LoopHandle> delivery_;
};

Connector::Connector(EventLoop& loop, std::vector<Candidate> candidates, ConnectOptions options)
    : d_(std::make_unique<Private>(*this, loop, std::move(candidates), std::move(options))) {}

Connector::~Connector() = default;

Result<void> Connector::start() {
    return d_->start();
}

void Connector::stop(const std::string& reason) {
    d_->stop(reason);
}

} // namespace jgather::s5b
