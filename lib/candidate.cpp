#include <jgather/candidate.hpp>
#include <jgather/source.hpp>

namespace jgather {

std::string_view to_string(IceType type) noexcept {
    switch (type) {
    case IceType::Host:
        return "host";
    case IceType::Prflx:
        return "prflx";
    case IceType::Srflx:
        return "srflx";
    case IceType::Relay:
        return "relay";
    }
    return "host";
}

std::string_view to_string(S5bType type) noexcept {
    switch (type) {
    case S5bType::Direct:
        return "direct";
    case S5bType::Assisted:
        return "assisted";
    case S5bType::Tunnel:
        return "tunnel";
    case S5bType::Proxy:
        return "proxy";
    }
    return "direct";
}

std::string_view to_string(TransportKind transport) noexcept {
    return transport == TransportKind::IceUdp ? "ice-udp" : "s5b";
}

std::optional<IceType> parse_ice_type(std::string_view name) noexcept {
    for (IceType type : {IceType::Host, IceType::Prflx, IceType::Srflx, IceType::Relay}) {
        if (to_string(type) == name) {
            return type;
        }
    }
    return std::nullopt;
}

std::optional<S5bType> parse_s5b_type(std::string_view name) noexcept {
    for (S5bType type : {S5bType::Direct, S5bType::Assisted, S5bType::Tunnel, S5bType::Proxy}) {
        if (to_string(type) == name) {
            return type;
        }
    }
    return std::nullopt;
}

std::optional<IpAddress> Candidate::ip() const {
    auto parsed = IpAddress::parse(host);
    if (!parsed) {
        return std::nullopt;
    }
    return *parsed;
}

bool Candidate::same_wire_fields(const Candidate& other) const {
    return host == other.host && port == other.port && priority == other.priority &&
           fields == other.fields;
}

std::string_view to_string(InterfaceKind kind) noexcept {
    switch (kind) {
    case InterfaceKind::Physical:
        return "physical";
    case InterfaceKind::Loopback:
        return "loopback";
    case InterfaceKind::VirtualBridge:
        return "virtual-bridge";
    case InterfaceKind::Vpn:
        return "vpn";
    }
    return "physical";
}

std::string_view to_string(SourceState state) noexcept {
    switch (state) {
    case SourceState::Ok:
        return "ok";
    case SourceState::Failed:
        return "failed";
    case SourceState::TimedOut:
        return "timed-out";
    case SourceState::Cancelled:
        return "cancelled";
    }
    return "ok";
}

LoopHandle::~LoopHandle() = default;
EventLoop::~EventLoop() = default;
SourceSink::~SourceSink() = default;
Source::~Source() = default;

} // namespace jgather
