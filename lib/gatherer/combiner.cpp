#include <algorithm>

#include "../util/random.hpp"
#include "combiner.hpp"
#include "verdict.hpp"

namespace jgather::detail {
namespace {

// Candidate ids / cids: 8 symbols of 5 bits, unique within a gathering.
constexpr std::size_t kIdLength = 8;

bool by_priority(const Candidate& a, const Candidate& b) {
    return a.priority > b.priority;
}

// The one ICE candidate builder: every ICE candidate of a gathering is made here. An agent's
// own numbers (libnice's), where it made the candidate, replace ours.
Candidate ice_candidate(IceType type, const Base& base, const TransportAddress& address,
                        std::uint16_t local_preference, std::string foundation, Origin origin,
                        const std::optional<AgentNumbers>& agent = std::nullopt,
                        const std::optional<TransportAddress>& related = std::nullopt) {
    Candidate c;
    c.fields = IceFields{};
    c.host = address.ip.to_string();
    c.port = address.port;
    c.priority = agent ? agent->priority : ice_priority(type, local_preference, base.component);
    c.ice()->component = base.component;
    c.ice()->foundation = agent ? agent->foundation : std::move(foundation);
    c.ice()->network = base.local.interface_index;
    c.ice()->type = type;
    if (type != IceType::Host) {
        // XEP-0176 rel-addr/rel-port: the base, or a relay's mapped address (§5.1.1.2).
        c.ice()->related = related.value_or(base.address());
    }
    c.origin = std::move(origin);
    c.interface = base.local.interface;
    return c;
}

// ... and the one SOCKS5 builder.
Candidate s5b_candidate(S5bType type, const TransportAddress& address,
                        std::uint16_t local_preference, std::string_view jid, Origin origin,
                        std::string interface) {
    Candidate c;
    c.fields = S5bFields{};
    c.host = address.ip.to_string();
    c.port = address.port;
    c.priority = s5b_priority(type, local_preference);
    c.fields = S5bFields{"", std::string(jid), type};
    c.origin = std::move(origin);
    c.interface = std::move(interface);
    return c;
}

} // namespace

Combiner::Combiner(CombinerSetup setup)
    : setup_(std::move(setup)),
      // Foundations of our own beside an agent's (libnice's are decimal): a letter keeps them
      // apart, since equal foundations claim the same type, base and server (§5.1.1.3).
      foundations_(std::any_of(setup_.bases.begin(), setup_.bases.end(),
                               [](const Base& b) { return b.agent.has_value(); })
                       ? "j"
                       : "") {}

std::string Combiner::new_id() {
    for (;;) {
        std::string id = random_alnum(kIdLength);
        if (ids_.insert(id).second) {
            return id;
        }
    }
}

bool Combiner::keep(Candidate candidate, Changes& changes) {
    if (setup_.relay_only && candidate.transport() == TransportKind::IceUdp &&
        candidate.ice()->type != IceType::Relay) {
        changes.dropped.push_back(
            {TransportAddress{*candidate.ip(), candidate.port}.to_string(), candidate.interface,
             std::string(to_string(candidate.ice()->type)) + " from " +
                 candidate.origin.to_string() +
                 " not advertised: relay-only (GatherOptions::relay_only)"});
        return false;
    }
    if (candidate.transport() == TransportKind::IceUdp) {
        candidate.ice()->generation = setup_.generation; // XEP-0176 `generation`
    }
    auto& list = candidate.transport() == TransportKind::IceUdp ? ice_ : s5b_;
    (candidate.transport() == TransportKind::IceUdp ? candidate.ice()->id : candidate.s5b()->cid) =
        new_id();
    list.insert(std::upper_bound(list.begin(), list.end(), candidate, by_priority), candidate);
    changes.added.push_back(std::move(candidate));
    return true;
}

Changes Combiner::add_hosts() {
    Changes changes;
    if (setup_.ice) {
        for (const Base& base : setup_.bases) {
            keep(ice_candidate(IceType::Host, base, base.address(), base.local_preference,
                               base.agent ? std::string()
                                          : foundations_.get(IceType::Host, base.local.ip, ""),
                               {"host", base.local.interface}, base.agent),
                 changes);
        }
    }
    if (setup_.s5b && setup_.s5b_port != 0) {
        // One direct candidate per address (the bases of component 1 name each address once).
        for (const Base& base : setup_.bases) {
            if (base.component == 1) {
                keep(s5b_candidate(S5bType::Direct, {base.local.ip, setup_.s5b_port},
                                   base.local_preference, setup_.jid,
                                   {"host", base.local.interface}, base.local.interface),
                     changes);
            }
        }
    }
    return changes;
}

const Candidate* Combiner::find_redundant(const std::vector<Candidate>& list,
                                          const Candidate& c) const {
    // RFC 8445 §5.1.3: same transport address and same base as a candidate already kept.
    for (const Candidate& other : list) {
        if (other.host != c.host || other.port != c.port) {
            continue;
        }
        if (c.transport() == TransportKind::Socks5) {
            return &other;
        }
        const std::optional<TransportAddress> other_base =
            other.ice()->type == IceType::Host
                ? std::optional(TransportAddress{*other.ip(), other.port})
                : other.ice()->related;
        if (other_base && c.ice()->related && *other_base == *c.ice()->related &&
            other.ice()->component == c.ice()->component) {
            return &other;
        }
    }
    return nullptr;
}

Result<Changes> Combiner::add_external(const ExternalAddress& given) {
    const IpAddress ip = given.ip.unmapped();
    Changes changes;
    // design §2: an external IP equal to a local address means no NAT: nothing to derive (a
    // server on this host answers with a loopback address, which is no error either).
    for (const LocalAddress& local : setup_.local_addresses) {
        if (local.ip == ip) {
            external_.push_back(given);
            external_.back().ip = ip;
            changes.dropped.push_back({ip.to_string(), local.interface,
                                       "external address from " + given.origin.to_string() +
                                           " is a local address (no NAT): no candidate derived"});
            return changes;
        }
    }
    if (auto problem = external_address_problem(ip)) {
        return Error{"external address " + *problem +
                     ", which cannot be anybody's external address"};
    }
    external_.push_back(given);
    const ExternalAddress& address = external_.back(); // nothing below adds to external_
    external_.back().ip = ip;
    const std::size_t origin_slot = external_.size() - 1;

    if (setup_.ice && !address.ice_candidates_reported) {
        const std::string origin_text = address.origin.to_string(); // the foundation's input
        for (const Base& base : setup_.bases) {
            if (base.local.ip.family() != address.ip.family()) {
                continue;
            }
            // A guess: the external IP with the base's own port, true where the NAT preserves
            // ports (design §2); ranked below every verified srflx (rules.hpp).
            // With an agent's bases, the agent's numbering says where a guess fits (Base).
            const std::uint16_t preference =
                base.agent ? static_cast<std::uint16_t>(
                                 base.guessed_local_preference -
                                 std::min<std::size_t>(origin_slot, base.guessed_local_preference))
                           : guessed_local_preference(base.local_preference, origin_slot);
            Candidate c = ice_candidate(
                IceType::Srflx, base, {address.ip, base.port}, preference,
                foundations_.get(IceType::Srflx, base.local.ip, origin_text), address.origin);
            const auto where = [&] {
                return TransportAddress{address.ip, c.port}.to_string();
            };
            if (const Candidate* same = find_redundant(ice_, c)) {
                changes.dropped.push_back({where(), base.local.interface,
                                           "srflx from " + origin_text + " is redundant with the " +
                                               std::string(to_string(same->ice()->type)) +
                                               " candidate from " + same->origin.to_string() +
                                               " (RFC 8445 §5.1.3)"});
                continue;
            }
            const auto verified = std::find_if(ice_.begin(), ice_.end(), [&](const Candidate& o) {
                return o.ice()->type == IceType::Srflx && o.ice()->related == c.ice()->related &&
                       o.host == c.host && !guessed_ids_.contains(o.ice()->id);
            });
            if (verified != ice_.end()) {
                changes.dropped.push_back({where(), base.local.interface,
                                           "srflx from " + origin_text +
                                               " not needed: " + verified->origin.to_string() +
                                               " already mapped this base to " + verified->host +
                                               ":" + std::to_string(verified->port)});
                continue;
            }
            if (keep(std::move(c), changes)) {
                guessed_ids_.insert(changes.added.back().ice()->id);
            }
        }
    }
    if (setup_.s5b && setup_.s5b_port != 0) {
        const auto assisted_rank = static_cast<std::uint16_t>(
            std::count_if(s5b_.begin(), s5b_.end(),
                          [](const Candidate& o) { return o.s5b()->type == S5bType::Assisted; }));
        Candidate c = s5b_candidate(
            S5bType::Assisted, {address.ip, address.forwarded_port.value_or(setup_.s5b_port)},
            static_cast<std::uint16_t>(65535 - assisted_rank), setup_.jid, address.origin, "");
        if (const Candidate* same = find_redundant(s5b_, c)) {
            changes.dropped.push_back({TransportAddress{address.ip, c.port}.to_string(), "",
                                       "assisted candidate from " + address.origin.to_string() +
                                           " is redundant with the " +
                                           std::string(to_string(same->s5b()->type)) +
                                           " candidate from " + same->origin.to_string()});
        } else {
            keep(std::move(c), changes);
        }
    }
    return changes;
}

Result<Changes> Combiner::add_proxy(ProxyFinding proxy) {
    const std::string where = proxy.address.to_string();
    if (proxy.jid.empty()) {
        return Error{"reported the proxy " + where + " without a JID (XEP-0065 §4.3.2)"};
    }
    if (proxy.address.port == 0) {
        return Error{"reported the proxy " + proxy.jid + " without a port"};
    }
    const IpAddress ip = proxy.address.ip.unmapped();
    if (ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast()) {
        return Error{"reported the proxy " + proxy.jid + " at " + where +
                     ", where no peer can reach it"};
    }
    Changes changes;
    if (!setup_.s5b) {
        changes.dropped.push_back({where, "", "proxy " + proxy.jid + ": SOCKS5 is not gathered"});
        return changes;
    }
    // XEP-0260 §2.2: type preference 10 for proxies; among them, the order they were found.
    const auto rank =
        static_cast<std::uint16_t>(std::count_if(s5b_.begin(), s5b_.end(), [](const Candidate& o) {
            return o.s5b()->type == S5bType::Proxy;
        }));
    Candidate c = s5b_candidate(S5bType::Proxy, {ip, proxy.address.port},
                                static_cast<std::uint16_t>(65535 - rank), proxy.jid,
                                std::move(proxy.origin), "");
    if (const Candidate* same = find_redundant(s5b_, c)) {
        changes.dropped.push_back({where, "",
                                   "proxy " + c.s5b()->jid + " is redundant with the " +
                                       std::string(to_string(same->s5b()->type)) +
                                       " candidate from " + same->origin.to_string()});
        return changes;
    }
    keep(std::move(c), changes);
    return changes;
}

Result<Changes> Combiner::add_source_candidate(const std::string& source, SourceCandidate found) {
    if (found.base_index >= setup_.bases.size()) {
        return Error{"reported a candidate for base " + std::to_string(found.base_index) +
                     ", which does not exist (" + std::to_string(setup_.bases.size()) + " bases)"};
    }
    const Base& base = setup_.bases[found.base_index];
    const auto what = [&found] {
        return std::string(to_string(found.type)) + " " + found.address.to_string();
    };
    if (found.type != IceType::Srflx && found.type != IceType::Relay) {
        return Error{"reported a " + std::string(to_string(found.type)) +
                     " candidate; sources report srflx or relay"};
    }
    if (found.address.ip.family() != base.local.ip.family()) {
        return Error{"reported " + what() + " for the " +
                     (base.local.ip.family() == Family::IPv4 ? "IPv4" : "IPv6") + " base " +
                     base.address().to_string() + ": a mapping is of its base's family"};
    }
    if (found.address.port == 0) {
        return Error{"reported " + what() + " with port 0"};
    }
    Changes changes;
    if (found.type == IceType::Srflx && found.address == base.address()) {
        changes.dropped.push_back(
            {found.address.to_string(), base.local.interface,
             "srflx from " + source + " equals its base: no NAT (RFC 8445 §5.1.3)"});
        no_nat_families_.insert(base.local.ip.family());
        return changes;
    }
    if (auto problem = found.type == IceType::Srflx ? external_address_problem(found.address.ip)
                                                    : remote_address_problem(found.address.ip)) {
        return Error{"reported " + what() + ": " + *problem};
    }
    Candidate c = ice_candidate(
        found.type, base, found.address, base.local_preference,
        found.agent ? std::string() : foundations_.get(found.type, base.local.ip, found.server),
        {source, found.server}, found.agent, found.related);
    if (const Candidate* same = find_redundant(ice_, c); same && same->priority >= c.priority) {
        changes.dropped.push_back(
            {found.address.to_string(), base.local.interface,
             std::string(to_string(found.type)) + " from " + source + " is redundant with the " +
                 std::string(to_string(same->ice()->type)) + " candidate from " +
                 same->origin.to_string() + " (RFC 8445 §5.1.3)"});
        return changes;
    }
    if (!keep(std::move(c), changes)) {
        return changes;
    }
    const Candidate& kept = changes.added.back();
    // A verified srflx supersedes a guess (SIC, configuration) for the same base and IP.
    for (auto it = ice_.begin(); it != ice_.end();) {
        const bool superseded = it->ice()->type == IceType::Srflx &&
                                guessed_ids_.contains(it->ice()->id) &&
                                it->ice()->related == kept.ice()->related && it->host == kept.host;
        if (!superseded) {
            ++it;
            continue;
        }
        changes.dropped.push_back({TransportAddress{*it->ip(), it->port}.to_string(), it->interface,
                                   "srflx from " + it->origin.to_string() +
                                       " superseded by the one " + kept.origin.to_string() +
                                       " verified for this base"});
        changes.superseded.emplace_back(*it, kept);
        it = ice_.erase(it);
    }
    return changes;
}

NetworkVerdict Combiner::verdict() const {
    VerdictInput input{{}, no_nat_families_, external_, setup_.local_addresses};
    for (const Candidate& c : ice_) {
        if (c.ice()->type == IceType::Srflx && !guessed_ids_.contains(c.ice()->id)) {
            input.verified_srflx.push_back(&c);
        } else if (c.ice()->type == IceType::Relay) {
            input.relays.push_back(&c);
        }
    }
    return judge_network(input);
}

} // namespace jgather::detail
