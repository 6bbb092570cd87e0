// The network verdict: what the findings say about the path to the Internet, per family.
#pragma once

#include <set>
#include <span>
#include <string>
#include <vector>

#include <jgather/gatherer.hpp>

namespace jgather::detail {

/** @brief The findings the verdict is drawn from (borrowed for the call). */
struct VerdictInput {
    /** STUN-verified srflx candidates (related = base): each a mapping through a NAT. */
    std::vector<const Candidate*> verified_srflx;
    const std::set<Family>& no_nat_families; ///< Families with a STUN mapping equal to its base.
    const std::vector<ExternalAddress>& external_addresses;
    std::span<const LocalAddress> local_addresses;
    /** Relay candidates (TURN allocations). */
    std::vector<const Candidate*> relays = {};
};

/** Judges each family on its own (an IPv4 and an IPv6 external address always differ, and IPv4
 * behind a NAT with IPv6 not is the usual dual-stack network), then overall. */
NetworkVerdict judge_network(const VerdictInput& input);

} // namespace jgather::detail
