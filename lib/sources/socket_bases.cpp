// The default BaseProvider: jgather's own UDP sockets, one per usable address per component.
#include <array>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include <jgather/bases.hpp>
#include <jgather/gatherer.hpp>

#include "../util/sockaddr.hpp"
#include "../util/unique_fd.hpp"
#include "host.hpp"

namespace jgather {

BaseProvider::~BaseProvider() = default;

namespace {

// Large enough for any UDP payload over IPv6 (RFC 8200 jumbograms aside).
constexpr std::size_t kMaxDatagram = 65535;

class SocketBases final : public BaseProvider {
public:
    std::string name() const override { return "host"; }

    Result<ProvidedBases> open(const GatherOptions& options) override {
        ProvidedBases provided;
        auto chosen = detail::choose_host_addresses(options.host, provided.local_addresses);
        if (!chosen) {
            return chosen.error();
        }
        detail::HostSelection selection = std::move(*chosen);
        provided.dropped = std::move(selection.dropped);
        if (!options.ice) {
            // SOCKS5 only: the addresses still matter (direct candidates), no sockets needed.
            for (const detail::UsableAddress& usable : selection.usable) {
                provided.bases.push_back({usable.local, 1, 0, usable.local_preference, {}, 0});
            }
            return provided;
        }
        std::string first_failure;
        for (const detail::UsableAddress& usable : selection.usable) {
            const std::size_t first = provided.bases.size();
            for (unsigned component = 1; component <= options.components; ++component) {
                auto bound =
                    detail::bind_udp(usable.local, options.host.port_min, options.host.port_max);
                if (!bound) {
                    provided.dropped.push_back({usable.local.ip.to_string(), usable.local.interface,
                                                bound.error().message});
                    provided.unbound.push_back(provided.dropped.back());
                    if (first_failure.empty()) {
                        first_failure = bound.error().message;
                    }
                    // A base set without every component is useless to ICE (RFC 8445 §5.1.1.1).
                    provided.bases.resize(first);
                    sockets_.resize(first);
                    break;
                }
                provided.bases.push_back(
                    {usable.local, component, bound->port, usable.local_preference, {}, 0});
                sockets_.push_back({std::move(bound->fd),
                                    component,
                                    usable.local.interface_index,
                                    {usable.local.ip, bound->port},
                                    usable.local.interface});
            }
        }
        if (provided.bases.empty() && !first_failure.empty()) {
            // Every usable address failed to bind (out of descriptors, the port range taken):
            // an error, never an "ok" gathering with nothing in it.
            return Error{"no UDP socket could be bound: " + first_failure};
        }
        return provided;
    }

    Result<void> send(std::size_t base_index, std::span<const std::uint8_t> data,
                      const TransportAddress& to) override {
        if (base_index >= sockets_.size() || !sockets_[base_index].fd.valid()) {
            return Error{"base " + std::to_string(base_index) + " has no socket"};
        }
        sockaddr_storage address{};
        const socklen_t length = detail::to_sockaddr(
            to, address, to.ip.is_link_local() ? sockets_[base_index].interface_index : 0);
        if (::sendto(sockets_[base_index].fd.get(), data.data(), data.size(), 0,
                     reinterpret_cast<sockaddr*>(&address), length) < 0) {
            return Error{"cannot send to " + to.to_string() + ": " + std::strerror(errno)};
        }
        return {};
    }

    void receive(EventLoop& loop, std::function<void(const Datagram&)> receiver) override {
        watches_.clear();
        receiver_ =
            receiver ? std::make_shared<std::function<void(const Datagram&)>>(std::move(receiver))
                     : nullptr;
        if (!receiver_) {
            return;
        }
        for (std::size_t i = 0; i < sockets_.size(); ++i) {
            if (sockets_[i].fd.valid()) {
                watches_.push_back(
                    loop.watch_readable(sockets_[i].fd.get(), [this, i] { read(i); }));
            }
        }
    }

    std::vector<OwnedSocket> take_sockets() override {
        watches_.clear();
        receiver_.reset();
        std::vector<OwnedSocket> sockets;
        for (std::size_t i = 0; i < sockets_.size(); ++i) {
            if (sockets_[i].fd.valid()) {
                sockets.push_back({sockets_[i].component,
                                   sockets_[i].address,
                                   sockets_[i].interface,
                                   sockets_[i].fd.release(),
                                   {}});
            }
        }
        return sockets;
    }

private:
    void read(std::size_t index) {
        // One buffer per thread, not per gathering (64 KiB each of a thousand gatherings): a
        // datagram's bytes are valid during its handler call only (Datagram::data), and no
        // read runs inside another's handler.
        thread_local std::array<std::uint8_t, kMaxDatagram> buffer_;
        // One datagram per wake-up: the watch is level-triggered, so another one waiting
        // calls again, and no recvfrom() is made only to hear EAGAIN.
        sockaddr_storage from{};
        socklen_t from_length = sizeof from;
        const ssize_t got =
            ::recvfrom(sockets_[index].fd.get(), buffer_.data(), buffer_.size(), MSG_DONTWAIT,
                       reinterpret_cast<sockaddr*>(&from), &from_length);
        if (got < 0) {
            return; // EAGAIN; an ICMP error (ECONNREFUSED) is consumed the same way
        }
        const auto sender = detail::from_sockaddr(from);
        const auto receiver = receiver_; // the receiver may end the reading
        if (receiver && sender) {
            (*receiver)(
                {index, *sender,
                 std::span<const std::uint8_t>(buffer_.data(), static_cast<std::size_t>(got))});
        }
    }

    // One per base, same index: what sending and handing the socket over need of its base (the
    // gatherer holds the bases themselves).
    struct Socket {
        detail::UniqueFd fd;
        unsigned component = 1;
        unsigned interface_index = 0; // the scope of a link-local destination
        TransportAddress address;
        std::string interface;
    };
    std::vector<Socket> sockets_;
    std::vector<std::unique_ptr<LoopHandle>> watches_;
    std::shared_ptr<std::function<void(const Datagram&)>> receiver_;
};

} // namespace

std::unique_ptr<BaseProvider> make_socket_bases() {
    return std::make_unique<SocketBases>();
}

} // namespace jgather
