/**
 * @file nice.hpp
 * @brief Adapter: jgather as the candidate layer of a libnice NiceAgent. The only header that
 *        exposes libnice types.
 *
 * libnice (0.1.21) owns its sockets: it cannot adopt one jgather bound, nor take a local
 * candidate from outside. So in this mode the application's NiceAgent makes the bases and
 * checks from them, and jgather
 * - chooses the local addresses by its interface policy (HostOptions) and gives them to the
 *   agent (nice_agent_add_local_address), sets agent defaults fit for Jingle (AgentSettings),
 *   and starts the agent's gathering;
 * - reports every candidate the agent makes (host, and the srflx/relay of libnice's own STUN
 *   and TURN) with the agent's priority and foundation, so both ends order the pairs alike;
 * - runs its other sources beside it unchanged: an external address (Server IP Check,
 *   configuration) derives a srflx per host base — the external IP with the host socket's port —
 *   that only the signalling carries. libnice's checks leave from the base, so such a candidate
 *   connects exactly when the NAT maps the host socket to it (a port-preserving NAT);
 * - applies the peer's XEP-0176 transport to the agent (RemoteCandidates).
 *
 * Everything runs on the agent's GMainContext, which must be the context of the gatherer's loop.
 * This adapter is part of libjgather (which links libnice already); its pkg-config file lists
 * `nice`.
 */
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nice/agent.h>

#include <jgather/address.hpp>
#include <jgather/candidate.hpp>
#include <jgather/export.hpp>
#include <jgather/gatherer.hpp>
#include <jgather/ice_servers.hpp>
#include <jgather/result.hpp>
#include <jgather/xep0176.hpp>

namespace jgather::nice {

/**
 * @brief Agent properties jgather sets before the agent gathers. Unset members leave the
 * agent's own value alone; the defaults below are what a Jingle call wants.
 */
struct AgentSettings {
    /** `upnp`: libnice's default TRUE delays candidate-gathering-done by its 200 ms
     * `upnp-timeout` wherever no IGD answers, which is almost everywhere. */
    std::optional<bool> upnp = false;
    /** `ice-tcp`: TRUE adds RFC 6544 TCP candidates, which XEP-0176 (ICE-UDP) cannot carry. */
    std::optional<bool> ice_tcp = false;
    /** `ice-trickle`: TRUE keeps a component from failing before the peer's end of candidates
     * (nice_agent_peer_candidate_gathering_done), as trickled Jingle candidates arrive late. */
    std::optional<bool> ice_trickle = true;
};

/** @brief How jgather drives one stream of an agent. */
struct AgentOptions {
    AgentSettings settings; ///< Properties set on the agent.
    /** The agent's STUN server (`stun-server`, `stun-server-port`): libnice takes one per agent
     * and asks it from every host base. Unset: whatever the agent has. */
    std::optional<TransportAddress> stun_server;
    /** TURN servers over UDP or TCP, configured by hand: nice_agent_set_relay_info for every
     * component, before those the directory announces. libnice takes 8 per component. */
    std::vector<TurnServer> relays;
    /**
     * STUN and TURN servers announced by the XMPP server (ExtdiscoService), if set; it must
     * outlive the gatherer. An answer the directory has cached when gather() runs is used in
     * full: the first usable STUN server of a family the agent has an address of becomes
     * libnice's `stun-server` (unless #stun_server is set; libnice takes one, the choice and
     * why are in the libnice source's report detail), every usable TURN server a relay.
     * Otherwise the agent starts gathering at once and the answer is awaited by the libnice
     * source: its TURN servers are added to the running gathering (libnice allows that), its
     * STUN servers cannot be (libnice reads `stun-server` once per gathering), which the detail
     * says. Ask the directory before gathering (IceServerDirectory::request) to have both.
     */
    IceServerDirectory* services = nullptr;
};

/**
 * Makes @p gatherer gather through stream @p stream_id of @p agent: installs a base provider
 * (Gatherer::set_base_provider) and a source named "libnice" that reports the agent's own
 * srflx and relay candidates (a relay's related address is the mapping its allocation
 * reported, the TURN server its origin) and ends with the agent's candidate-gathering-done.
 * Call before Gatherer::gather(), which then applies the options and starts the agent's
 * gathering. With GatherOptions::relay_only the agent gets no STUN server and, once its host
 * candidates are read, `force-relay`: it checks from its relays only.
 *
 * The stream must have GatherOptions::components components and must not have gathered yet.
 * Attach its receive callbacks first (nice_agent_attach_recv on the gatherer's context): until
 * then libnice reads the stream's sockets on a private context that nobody iterates, so the
 * answers of its STUN server are lost and its srflx never comes.
 * The agent is referenced until the gatherer is destroyed; its signal handlers are
 * disconnected then. GatherResult::ufrag/pwd are the agent's credentials for the stream.
 * An error when @p agent is NULL, the stream does not exist, or gather() was called.
 */
JGATHER_EXPORT Result<void> attach(Gatherer& gatherer, NiceAgent* agent, guint stream_id,
                                   AgentOptions options = {});

/** Frees a NiceCandidate (nice_candidate_free). */
struct NiceCandidateDeleter {
    /** Frees @p candidate. */
    void operator()(NiceCandidate* candidate) const noexcept;
};
/** An owned NiceCandidate. */
using NiceCandidatePtr = std::unique_ptr<NiceCandidate, NiceCandidateDeleter>;

/**
 * A libnice candidate as a jgather ICE candidate: type, address, port, priority, foundation and
 * component as they are; the base address (`base_addr`) as the related address of a non-host
 * candidate. `id`, `network` and `generation` are left for the caller (0 and empty): libnice
 * has none of them. An error for TCP candidates (XEP-0176 carries UDP only) and for addresses
 * that are not IPv4 or IPv6.
 */
JGATHER_EXPORT Result<Candidate> from_nice(const NiceCandidate& candidate);

/**
 * A jgather ICE candidate as a libnice one for stream @p stream_id: the same fields; the related
 * address becomes `base_addr`. The type stays as it is (a prflx stays prflx: see
 * RemoteCandidates for what libnice accepts from a peer). An error for SOCKS5 candidates, a host
 * that is not a literal IP, and a foundation longer than 32 characters.
 */
JGATHER_EXPORT Result<NiceCandidatePtr> to_nice(const Candidate& candidate, guint stream_id);

/** @brief What RemoteCandidates::apply() did. */
struct ApplyReport {
    std::size_t added = 0;            ///< Candidates given to the agent.
    std::size_t already_known = 0;    ///< Candidates it had from an earlier transport (trickle).
    std::vector<std::string> skipped; ///< Candidates it cannot take, each with why.
    bool credentials_set = false;     ///< This call set the peer's credentials.
};

/**
 * @brief The peer's side of one agent stream: applies its XEP-0176 transports as they arrive
 * (session-initiate or -accept, then transport-info for trickle).
 *
 * The credentials are set once (nice_agent_set_remote_credentials); later transports may
 * repeat them or leave them out. New candidates are added incrementally per component
 * (nice_agent_set_remote_candidates), those seen before are not given again. A peer's prflx is
 * given to libnice as srflx, since nice_agent_set_remote_candidates refuses the prflx type;
 * libnice pairs both alike, and the priority stays the peer's. Not one reference to @p agent
 * is taken: the caller keeps the agent alive while this object is used.
 */
class JGATHER_EXPORT RemoteCandidates {
public:
    /** For stream @p stream_id of @p agent. */
    RemoteCandidates(NiceAgent* agent, guint stream_id);

    /**
     * Applies @p transport. An error, with nothing applied, when the first transport has no
     * credentials, when the credentials change (an ICE restart, RFC 8445 §9, needs a new
     * stream), or when the agent refuses them. Candidates the agent cannot take — a component
     * the stream does not have, a family of no local base — are skipped with the reason; the
     * rest are still applied.
     */
    Result<ApplyReport> apply(const xep0176::Transport& transport);

    /** The peer said it has no more candidates: nice_agent_peer_candidate_gathering_done. */
    Result<void> end_of_candidates();

private:
    NiceAgent* agent_;
    guint stream_id_;
    std::string ufrag_;
    std::string pwd_;
    std::vector<Candidate> known_;
};

} // namespace jgather::nice
