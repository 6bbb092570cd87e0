#include <algorithm>
#include <map>
#include <utility>

#include "verdict.hpp"

namespace jgather::detail {

NetworkVerdict judge_network(const VerdictInput& input) {
    struct FamilyView {
        bool saw_nat = false;
        bool saw_none = false;
        std::map<std::string, std::vector<std::string>> seen_by; // external IP -> who saw it
    };
    FamilyView families[2];
    const auto view = [&families](Family f) -> FamilyView& {
        return families[f == Family::IPv6 ? 1 : 0];
    };
    NetworkVerdict verdict;
    const auto is_local = [&input](const IpAddress& ip) {
        return std::any_of(input.local_addresses.begin(), input.local_addresses.end(),
                           [&](const LocalAddress& l) { return l.ip == ip; });
    };
    // STUN: each mapping against its base (kept candidates and the "equals its base" drops).
    for (const Candidate* srflx : input.verified_srflx) {
        const Candidate& c = *srflx;
        if (!c.ice()->related) {
            continue;
        }
        view(c.ice()->related->ip.family()).saw_nat = true;
        const bool kept = c.port == c.ice()->related->port;
        verdict.port_preserved = verdict.port_preserved.value_or(true) && kept;
    }
    // RFC 4787 §4.1: one base, two servers, two mappings = the mapping depends on the destination.
    for (std::size_t i = 0; i < input.verified_srflx.size(); ++i) {
        for (std::size_t j = i + 1; j < input.verified_srflx.size(); ++j) {
            const Candidate& a = *input.verified_srflx[i];
            const Candidate& b = *input.verified_srflx[j];
            if (a.ice()->related != b.ice()->related || a.origin.detail == b.origin.detail) {
                continue;
            }
            const bool differ = a.host != b.host || a.port != b.port;
            verdict.mapping_per_destination = verdict.mapping_per_destination.value_or(false) ||
                                              differ;
        }
    }
    verdict.relay = !input.relays.empty();
    if (verdict.mapping_per_destination == true) {
        verdict.notes.push_back(
            std::string("the NAT maps each destination to its own port (RFC 4787 §4.1 "
                        "endpoint-dependent mapping): srflx candidates will not connect; ") +
            (verdict.relay ? "only a relay reaches the outside"
                           : "only a TURN relay would reach the outside, and none was gathered"));
    }
    if (verdict.relay) {
        std::vector<std::string> servers;
        for (const Candidate* relay : input.relays) {
            if (std::find(servers.begin(), servers.end(), relay->origin.detail) == servers.end()) {
                servers.push_back(relay->origin.detail);
            }
        }
        std::string text = "relay candidates from";
        for (std::size_t i = 0; i < servers.size(); ++i) {
            text += (i ? ", " : " ") + servers[i];
        }
        verdict.notes.push_back(text + ": the path of last resort, for NATs that map per "
                                       "destination and networks that block direct UDP");
    }
    for (const Family family : input.no_nat_families) {
        view(family).saw_none = true;
    }
    for (const ExternalAddress& e : input.external_addresses) {
        FamilyView& v = view(e.ip.family());
        v.seen_by[e.ip.to_string()].push_back(e.origin.source);
        (is_local(e.ip) ? v.saw_none : v.saw_nat) = true;
        if (e.ip.is_shared_cgnat()) {
            verdict.notes.push_back(
                e.ip.to_string() + " from " + e.origin.to_string() +
                " is carrier-grade NAT space (RFC 6598): another NAT lies beyond");
        } else if (e.ip.is_private() && !is_local(e.ip)) {
            verdict.notes.push_back(e.ip.to_string() + " from " + e.origin.to_string() +
                                    " is a private address: that server is on a private network "
                                    "(or behind the same NAT)");
        }
    }
    const auto judge = [](const FamilyView& v) {
        return v.saw_nat    ? NetworkVerdict::Nat::Nat
               : v.saw_none ? NetworkVerdict::Nat::None
                            : NetworkVerdict::Nat::Unknown;
    };
    verdict.ipv4 = judge(families[0]);
    verdict.ipv6 = judge(families[1]);
    verdict.nat = judge({families[0].saw_nat || families[1].saw_nat,
                         families[0].saw_none || families[1].saw_none,
                         {}});
    for (const auto& [name, v] : {std::pair{"IPv4", &families[0]}, {"IPv6", &families[1]}}) {
        if (v->seen_by.size() > 1) {
            std::string text =
                std::string("sources disagree on the external ") + name + " address:";
            for (const auto& [ip, sources] : v->seen_by) {
                text += " " + ip + " (";
                for (std::size_t i = 0; i < sources.size(); ++i) {
                    text += (i ? ", " : "") + sources[i];
                }
                text += ")";
            }
            verdict.notes.push_back(text + " — a VPN or another egress for some traffic, or a "
                                           "server on the LAN");
        }
        if (v->saw_nat && v->saw_none) {
            verdict.notes.push_back(std::string("some ") + name +
                                    " paths are NATed and some are not (several interfaces?)");
        }
    }
    if (verdict.ipv4 != NetworkVerdict::Nat::Unknown &&
        verdict.ipv6 != NetworkVerdict::Nat::Unknown && verdict.ipv4 != verdict.ipv6) {
        verdict.notes.push_back(verdict.ipv4 == NetworkVerdict::Nat::Nat
                                    ? "IPv4 goes through a NAT, IPv6 does not"
                                    : "IPv6 goes through a NAT (NAT66), IPv4 does not");
    }
    return verdict;
}

} // namespace jgather::detail

namespace jgather {

std::string_view to_string(NetworkVerdict::Nat nat) noexcept {
    switch (nat) {
    case NetworkVerdict::Nat::None:
        return "none";
    case NetworkVerdict::Nat::Nat:
        return "nat";
    case NetworkVerdict::Nat::Unknown:
        return "unknown";
    }
    return "unknown";
}

} // namespace jgather
