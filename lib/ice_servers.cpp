#include <algorithm>

#include <jgather/ice_servers.hpp>

namespace jgather {

IceServerDirectory::~IceServerDirectory() = default;

std::string_view to_string(RelayTransport transport) noexcept {
    return transport == RelayTransport::Tcp ? "tcp" : "udp";
}

std::optional<RelayTransport> parse_relay_transport(std::string_view text) noexcept {
    if (text == "udp") {
        return RelayTransport::Udp;
    }
    if (text == "tcp") {
        return RelayTransport::Tcp;
    }
    return std::nullopt;
}

std::string_view to_string(ServiceType type) noexcept {
    switch (type) {
    case ServiceType::Stun:
        return "stun";
    case ServiceType::Stuns:
        return "stuns";
    case ServiceType::Turn:
        return "turn";
    case ServiceType::Turns:
        return "turns";
    }
    return "stun";
}

std::optional<ServiceType> parse_service_type(std::string_view text) noexcept {
    for (const ServiceType type :
         {ServiceType::Stun, ServiceType::Stuns, ServiceType::Turn, ServiceType::Turns}) {
        if (text == to_string(type)) {
            return type;
        }
    }
    return std::nullopt;
}

Result<TurnServer> make_turn_server(std::string_view address, std::string username,
                                    std::string password, RelayTransport transport,
                                    std::string origin) {
    auto parsed = TransportAddress::parse(address, kDefaultStunPort);
    if (!parsed) {
        return Error{"TURN server: " + parsed.error().message};
    }
    if (parsed->port == 0) {
        return Error{"TURN server: port 0"};
    }
    if (auto problem = remote_address_problem(parsed->ip)) {
        return Error{"TURN server: " + *problem};
    }
    // RFC 8489 §14.3: USERNAME is less than 513 bytes (the password gets the same bound).
    constexpr std::size_t kMaxCredential = 512;
    if (username.empty() || password.empty()) {
        return Error{"TURN server " + parsed->to_string() +
                     ": a username and a password are needed (RFC 8656 §5: long-term credentials)"};
    }
    if (username.size() > kMaxCredential || password.size() > kMaxCredential) {
        return Error{"TURN server " + parsed->to_string() +
                     ": username or password longer than 512 bytes (RFC 8489 §14.3)"};
    }
    return TurnServer{*parsed, transport, std::move(username), std::move(password),
                      std::move(origin)};
}

std::vector<TransportAddress> ExternalServices::stun_servers() const {
    std::vector<TransportAddress> out;
    for (const ExternalService& s : services) {
        if (!s.usable() || s.type != ServiceType::Stun || s.transport != "udp") {
            continue;
        }
        for (const IpAddress& ip : s.addresses) {
            const TransportAddress address{ip, s.port};
            if (std::find(out.begin(), out.end(), address) == out.end()) {
                out.push_back(address);
            }
        }
    }
    return out;
}

std::vector<TurnServer> ExternalServices::turn_servers() const {
    std::vector<TurnServer> out;
    for (const ExternalService& s : services) {
        if (!s.usable() || s.type != ServiceType::Turn) {
            continue;
        }
        const auto transport = parse_relay_transport(s.transport);
        for (const IpAddress& ip : s.addresses) {
            TurnServer turn{{ip, s.port},
                            transport.value_or(RelayTransport::Udp),
                            s.username,
                            s.password,
                            "extdisco " + server};
            if (std::find(out.begin(), out.end(), turn) == out.end()) {
                out.push_back(std::move(turn));
            }
        }
    }
    return out;
}

} // namespace jgather
