// The gatherer's rules as a loop-free unit: findings in, candidates (and drops) out.
//
// Everything here is deterministic but for the random ids, and runs without a loop, so the
// rules are tested with tables of findings (tests/unit/combiner_test.cpp). The gatherer owns
// one Combiner per gathering and turns each Changes into events.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <jgather/gatherer.hpp>
#include <jgather/result.hpp>
#include <jgather/source.hpp>

#include "rules.hpp"

namespace jgather::detail {

/** @brief What one finding changed. */
struct Changes {
    std::vector<Candidate> added; ///< New candidates, in the order to trickle them.
    /** Candidates removed from the lists, each with the one that replaced it. */
    std::vector<std::pair<Candidate, Candidate>> superseded;
    std::vector<DroppedAddress> dropped; ///< What produced no candidate, with why.
};

/**
 * @brief What the rules need to know of the gathering.
 *
 * Views, not copies: the gathering holds the JID, the bases and the addresses for as long as
 * its combiner lives (a thousand gatherings would hold each twice otherwise).
 */
struct CombinerSetup {
    bool ice = true;
    bool s5b = false;
    std::string_view jid;
    std::uint16_t s5b_port = 0; ///< 0 = no SOCKS5 candidates.
    std::span<const Base> bases;
    std::span<const LocalAddress> local_addresses;
    /** GatherOptions::relay_only: ICE candidates other than relays are dropped, not kept. */
    bool relay_only = false;
    /** GatherOptions::generation, written into every ICE candidate. */
    unsigned generation = 0;
};

/**
 * @brief Applies RFC 8445 §5.1 and XEP-0260 §2.2 to findings: priorities, foundations, ids,
 * derived srflx and assisted candidates, redundancy (§5.1.3), superseding of guesses, and the
 * plausibility of every finding.
 */
class Combiner {
public:
    explicit Combiner(CombinerSetup setup);

    /** Host (ICE) and direct (S5B) candidates for every base. */
    Changes add_hosts();
    /** An external address: a srflx guess per base of its family (unless the source verified
     * its own) and one assisted candidate. An error (nothing changed) when the address cannot
     * be external (external_address_problem()). */
    Result<Changes> add_external(const ExternalAddress& address);
    /** A candidate a source made for one of its bases. An error (nothing changed) when the
     * base is unknown, or the address is of another family than the base's or implausible. */
    Result<Changes> add_source_candidate(const std::string& source, SourceCandidate found);
    /** A SOCKS5 proxy: one XEP-0260 `proxy` candidate (a drop when S5B is not gathered or the
     * same proxy address is known). An error (nothing changed) without a JID or a port, or at
     * an address no peer can reach (unspecified, multicast, broadcast). */
    Result<Changes> add_proxy(ProxyFinding proxy);

    [[nodiscard]] const std::vector<Candidate>& ice() const { return ice_; }
    [[nodiscard]] const std::vector<Candidate>& s5b() const { return s5b_; }
    [[nodiscard]] const std::vector<ExternalAddress>& external_addresses() const {
        return external_;
    }
    [[nodiscard]] const CombinerSetup& setup() const { return setup_; }

    /** @brief The lists of a combiner that is done. */
    struct Lists {
        std::vector<Candidate> ice;
        std::vector<Candidate> s5b;
        std::vector<ExternalAddress> external_addresses;
    };
    /** The lists, moved out, for a gathering that completed: nothing is added after that, so
     * they need not be copied, and the rest of the combiner can go. */
    [[nodiscard]] Lists release() && {
        return {std::move(ice_), std::move(s5b_), std::move(external_)};
    }
    /** What the findings so far say about the network. */
    [[nodiscard]] NetworkVerdict verdict() const;

private:
    std::string new_id();
    /** Adds @p candidate to its list; false (and a drop) when relay-only refuses it. */
    bool keep(Candidate candidate, Changes& changes);
    const Candidate* find_redundant(const std::vector<Candidate>& list, const Candidate& c) const;

    CombinerSetup setup_;
    std::vector<Candidate> ice_; // highest priority first
    std::vector<Candidate> s5b_;
    std::vector<ExternalAddress> external_;
    FoundationTable foundations_;
    std::set<std::string> ids_;
    std::set<std::string> guessed_ids_; // srflx derived from an external address, not verified
    std::set<Family> no_nat_families_;  // families with a mapping equal to its base
};

} // namespace jgather::detail
