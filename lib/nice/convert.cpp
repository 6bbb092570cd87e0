// NiceCandidate <-> jgather::Candidate, field by field.
#include <cstring>

#include <jgather/nice.hpp>

#include "convert.hpp"

namespace jgather::nice {

void NiceCandidateDeleter::operator()(NiceCandidate* candidate) const noexcept {
    if (candidate != nullptr) {
        nice_candidate_free(candidate);
    }
}

namespace detail {

std::optional<TransportAddress> from_nice_address(const NiceAddress& address) {
    if (!nice_address_is_valid(&address)) {
        return std::nullopt;
    }
    char text[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&address, text);
    auto ip = IpAddress::parse(text);
    if (!ip) {
        return std::nullopt;
    }
    return TransportAddress{*ip, static_cast<std::uint16_t>(nice_address_get_port(&address))};
}

NiceAddress to_nice_address(const TransportAddress& address) {
    NiceAddress out;
    nice_address_init(&out);
    // A canonical literal always parses; nice_address_set_from_string is getaddrinfo(NUMERICHOST).
    nice_address_set_from_string(&out, address.ip.to_string().c_str());
    nice_address_set_port(&out, address.port);
    return out;
}

std::optional<IceType> from_nice_type(NiceCandidateType type) {
    switch (type) {
    case NICE_CANDIDATE_TYPE_HOST:
        return IceType::Host;
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
        return IceType::Srflx;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
        return IceType::Prflx;
    case NICE_CANDIDATE_TYPE_RELAYED:
        return IceType::Relay;
    }
    return std::nullopt;
}

NiceCandidateType to_nice_type(IceType type) {
    switch (type) {
    case IceType::Host:
        return NICE_CANDIDATE_TYPE_HOST;
    case IceType::Srflx:
        return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
    case IceType::Prflx:
        return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
    case IceType::Relay:
        return NICE_CANDIDATE_TYPE_RELAYED;
    }
    return NICE_CANDIDATE_TYPE_HOST;
}

} // namespace detail

Result<Candidate> from_nice(const NiceCandidate& candidate) {
    if (candidate.transport != NICE_CANDIDATE_TRANSPORT_UDP) {
        return Error{std::string("a ") + nice_candidate_transport_to_string(candidate.transport) +
                     " candidate: XEP-0176 carries UDP candidates only"};
    }
    const auto type = detail::from_nice_type(candidate.type);
    if (!type) {
        return Error{"a candidate of unknown type " + std::to_string(candidate.type)};
    }
    const auto address = detail::from_nice_address(candidate.addr);
    if (!address) {
        return Error{"a candidate whose address is neither IPv4 nor IPv6"};
    }
    Candidate out;
    out.fields = IceFields{};
    out.host = address->ip.to_string();
    out.port = address->port;
    out.priority = candidate.priority;
    IceFields& ice = *out.ice();
    ice.component = candidate.component_id;
    ice.foundation = candidate.foundation;
    ice.type = *type;
    if (*type != IceType::Host) {
        // libnice's base_addr is the base (RFC 8445 §5.1.1.1): XEP-0176's rel-addr/rel-port.
        ice.related = detail::from_nice_address(candidate.base_addr);
    }
    out.origin = {"libnice", ""};
    return out;
}

Result<NiceCandidatePtr> to_nice(const Candidate& candidate, guint stream_id) {
    const IceFields* ice = candidate.ice();
    if (ice == nullptr) {
        return Error{"a SOCKS5 candidate has no libnice form"};
    }
    const auto ip = candidate.ip();
    if (!ip) {
        return Error{"host '" + candidate.host + "' is not a literal IP"};
    }
    if (ice->foundation.empty() || ice->foundation.size() >= NICE_CANDIDATE_MAX_FOUNDATION) {
        return Error{"foundation '" + ice->foundation + "' is not 1-32 characters"};
    }
    NiceCandidatePtr out(nice_candidate_new(detail::to_nice_type(ice->type)));
    out->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    out->addr = detail::to_nice_address({*ip, candidate.port});
    if (ice->related) {
        out->base_addr = detail::to_nice_address(*ice->related);
    }
    out->priority = candidate.priority;
    out->stream_id = stream_id;
    out->component_id = ice->component;
    std::memcpy(out->foundation, ice->foundation.c_str(), ice->foundation.size() + 1);
    return out;
}

} // namespace jgather::nice
