// The SOCKS5 server of direct candidates: accept, answer the greeting and the CONNECT of
// XEP-0065 §5.3.2, hand the stream over.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/socket.h>
#include <utility>
#include <variant>

#include <jgather/s5b.hpp>

#include "../util/guard.hpp"
#include "../util/sockaddr.hpp"
#include "../util/unique_fd.hpp"
#include "io.hpp"
#include "socks5.hpp"

namespace jgather::s5b {

using detail::UniqueFd;
namespace socks5 = detail::socks5;

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

} // namespace

class Acceptor::Private {
public:
    Private(Acceptor& owner, EventLoop& loop, Socket listener, AcceptOptions options)
        : owner_(owner), loop_(loop), listener_(std::move(listener)), options_(options) {}

    ~Private() { *alive_ = false; }

    Result<void> start() {
        if (watch_ || retry_) {
            return Error{"s5b::Acceptor: already started"};
        }
        int listening = 0;
        socklen_t size = sizeof listening;
        if (!listener_ ||
            ::getsockopt(listener_.fd(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 ||
            listening == 0) {
            return Error{"s5b::Acceptor: the socket given is not a listening TCP socket"};
        }
        // A blocking listener would block the loop in accept4() once the queue is drained.
        const int flags = ::fcntl(listener_.fd(), F_GETFL);
        if (flags < 0 || ::fcntl(listener_.fd(), F_SETFL, flags | O_NONBLOCK) != 0) {
            return Error{std::string("s5b::Acceptor: cannot make the listener non-blocking: ") +
                         std::strerror(errno)};
        }
        watch_ = loop_.watch_readable(listener_.fd(), [this] { accept_all(); });
        return {};
    }

    Result<void> expect(std::string dstaddr) {
        if (dstaddr.size() != kDstAddrLength) {
            return Error{"s5b::Acceptor: DST.ADDR must be " + std::to_string(kDstAddrLength) +
                         " characters (XEP-0065 §5.3.2 SHA-1 hex), got " +
                         std::to_string(dstaddr.size())};
        }
        expected_.insert(lower(std::move(dstaddr)));
        return {};
    }

    void forget(const std::string& dstaddr) { expected_.erase(lower(dstaddr)); }

    [[nodiscard]] std::uint16_t port() const {
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        if (!listener_ ||
            ::getsockname(listener_.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            return 0;
        }
        const auto transport = detail::from_sockaddr(address);
        return transport ? transport->port : 0;
    }

private:
    enum class Phase { Greeting, Request };
    struct Pending {
        UniqueFd fd;
        TransportAddress peer;
        Phase phase = Phase::Greeting;
        std::string in;
        std::unique_ptr<LoopHandle> watch;
        std::unique_ptr<LoopHandle> timer;
    };
    using Event = std::variant<AcceptedStream, RejectedConnection>;
    // How long to wait before accepting again when the process is out of descriptors.
    static constexpr std::chrono::milliseconds kAcceptRetry{100};

    void accept_all() {
        for (;;) {
            sockaddr_storage address{};
            socklen_t length = sizeof address;
            UniqueFd fd(::accept4(listener_.fd(), reinterpret_cast<sockaddr*>(&address), &length,
                                  SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!fd.valid()) {
                if (errno == EINTR || errno == ECONNABORTED) {
                    continue; // that connection's own trouble
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    // Out of descriptors or memory: the connection stays queued and the listener
                    // readable, so a level-triggered watch would spin. Look again a little later.
                    watch_.reset();
                    retry_ = loop_.call_after(kAcceptRetry, [this] {
                        retry_.reset();
                        watch_ = loop_.watch_readable(listener_.fd(), [this] { accept_all(); });
                    });
                }
                return; // EAGAIN: drained
            }
            const TransportAddress peer =
                detail::from_sockaddr(address).value_or(TransportAddress{});
            if (pending_.size() >= options_.max_pending) {
                queue(RejectedConnection{peer, "more than " + std::to_string(options_.max_pending) +
                                                   " connections in their SOCKS5 handshake"});
                continue; // fd closes here
            }
            const std::uint64_t id = next_id_++;
            Pending& pending = pending_[id];
            pending.fd = std::move(fd);
            pending.peer = peer;
            pending.watch = loop_.watch_readable(pending.fd.get(), [this, id] { readable(id); });
            pending.timer = loop_.call_after(options_.handshake_timeout, [this, id] {
                reject(id, "no SOCKS5 greeting and CONNECT within " +
                               std::to_string(options_.handshake_timeout.count()) + " ms");
            });
        }
    }

    void readable(std::uint64_t id) {
        Pending& pending = pending_.at(id);
        const bool greeting = pending.phase == Phase::Greeting;
        const auto state =
            socks5::read_message(pending.fd.get(), pending.in, [greeting](std::string_view have) {
                return greeting ? socks5::greeting_length(have) : socks5::request_length(have);
            });
        if (state == socks5::ReadState::Pending) {
            return;
        }
        if (state != socks5::ReadState::Complete) {
            reject(id, state == socks5::ReadState::Closed
                           ? "the peer closed the connection during the SOCKS5 handshake"
                           : std::string("recv: ") + std::strerror(errno));
            return;
        }
        if (greeting) {
            answer_greeting(id, pending);
        } else {
            answer_request(id, pending);
        }
    }

    void answer_greeting(std::uint64_t id, Pending& pending) {
        if (auto offered = socks5::read_greeting(pending.in); !offered) {
            // RFC 1928 §3: X'FF' tells the client none of its methods is acceptable.
            (void)socks5::write_message(pending.fd.get(),
                                        socks5::method_selection(socks5::kNoAcceptableMethod));
            reject(id, offered.error().message);
            return;
        }
        if (!socks5::write_message(pending.fd.get(),
                                   socks5::method_selection(socks5::kNoAuthentication))) {
            reject(id, std::string("send method selection: ") + std::strerror(errno));
            return;
        }
        pending.in.clear();
        pending.phase = Phase::Request;
    }

    void answer_request(std::uint64_t id, Pending& pending) {
        socks5::Request request;
        socks5::RequestError error;
        if (!socks5::read_request(pending.in, request, error)) {
            (void)socks5::write_message(pending.fd.get(), socks5::reply(error.rep, ""));
            reject(id, error.message);
            return;
        }
        if (expected_.count(lower(request.dstaddr)) == 0) {
            (void)socks5::write_message(pending.fd.get(),
                                        socks5::reply(socks5::kNotAllowed, request.dstaddr));
            reject(id, "DST.ADDR \"" + request.dstaddr + "\" is not expected");
            return;
        }
        if (!socks5::write_message(pending.fd.get(),
                                   socks5::reply(socks5::kSucceeded, request.dstaddr))) {
            reject(id, std::string("send reply: ") + std::strerror(errno));
            return;
        }
        AcceptedStream stream{request.dstaddr, pending.peer, Socket(pending.fd.release())};
        pending_.erase(id); // its handles go too, also from inside their own callback
        queue(std::move(stream));
    }

    void reject(std::uint64_t id, std::string reason) {
        auto it = pending_.find(id);
        if (it == pending_.end()) {
            return;
        }
        RejectedConnection rejected{it->second.peer, std::move(reason)};
        pending_.erase(it);
        queue(std::move(rejected));
    }

    // Reports run from the loop, never on the stack of the read that found them.
    void queue(Event event) {
        events_.push_back(std::move(event));
        if (!delivery_) {
            delivery_ = loop_.call_after(std::chrono::milliseconds(0), [this] { deliver(); });
        }
    }

    void deliver() {
        const auto handle = std::move(delivery_); // dies after this turn, not inside it
        std::deque<Event> events;
        events.swap(events_);
        const auto alive = alive_;
        for (Event& event : events) {
            if (!*alive) {
                return; // a callback destroyed the acceptor: the rest closes with `events`
            }
            if (auto* stream = std::get_if<AcceptedStream>(&event)) {
                const auto callback = owner_.on_stream;
                if (callback) {
                    (void)detail::contain([&] { callback(std::move(*stream)); });
                }
            } else if (auto* rejected = std::get_if<RejectedConnection>(&event)) {
                const auto callback = owner_.on_rejected;
                if (callback) {
                    (void)detail::contain([&] { callback(*rejected); });
                }
            }
        }
    }

    Acceptor& owner_;
    EventLoop& loop_;
    Socket listener_;
    AcceptOptions options_;
    std::unique_ptr<LoopHandle> watch_;
    std::unique_ptr<LoopHandle> retry_;
    std::set<std::string> expected_;
    std::map<std::uint64_t, Pending> pending_;
    std::uint64_t next_id_ = 1;
    std::deque<Event> events_;
    std::unique_ptr<LoopHandle> delivery_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

Acceptor::Acceptor(EventLoop& loop, Socket listener, AcceptOptions options)
    : d_(std::make_unique<Private>(*this, loop, std::move(listener), options)) {}

Acceptor::~Acceptor() = default;

Result<void> Acceptor::start() {
    return d_->start();
}

Result<void> Acceptor::expect(std::string dstaddr) {
    return d_->expect(std::move(dstaddr));
}

void Acceptor::forget(const std::string& dstaddr) {
    d_->forget(dstaddr);
}

std::uint16_t Acceptor::port() const {
    return d_->port();
}

} // namespace jgather::s5b
