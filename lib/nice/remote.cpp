// The peer's side of an agent stream: XEP-0176 transports applied to libnice.
#include <algorithm>
#include <map>

#include <jgather/nice.hpp>

namespace jgather::nice {
namespace {

struct SListFree {
    void operator()(GSList* list) const noexcept { g_slist_free(list); }
};

bool same_candidate(const Candidate& a, const Candidate& b) {
    // libnice merges remote candidates by address and component (and transport: UDP here).
    return a.host == b.host && a.port == b.port && a.ice()->component == b.ice()->component;
}

} // namespace

RemoteCandidates::RemoteCandidates(NiceAgent* agent, guint stream_id)
    : agent_(agent), stream_id_(stream_id) {}

Result<ApplyReport> RemoteCandidates::apply(const xep0176::Transport& transport) {
    if (agent_ == nullptr) {
        return Error{"no NiceAgent"};
    }
    ApplyReport report;
    const bool has_credentials = !transport.ufrag.empty() && !transport.pwd.empty();
    if (ufrag_.empty()) {
        if (!has_credentials) {
            return Error{"the peer's first transport carries no ufrag and pwd (XEP-0176 §5.2)"};
        }
        if (!nice_agent_set_remote_credentials(agent_, stream_id_, transport.ufrag.c_str(),
                                               transport.pwd.c_str())) {
            return Error{"the NiceAgent refused the peer's credentials (stream " +
                         std::to_string(stream_id_) + ")"};
        }
        ufrag_ = transport.ufrag;
        pwd_ = transport.pwd;
        report.credentials_set = true;
    } else if (has_credentials && (transport.ufrag != ufrag_ || transport.pwd != pwd_)) {
        return Error{"the peer's credentials changed (ufrag '" + ufrag_ + "' to '" +
                     transport.ufrag +
                     "'): an ICE restart (RFC 8445 §9), which needs a new "
                     "stream"};
    }

    std::map<guint, std::vector<NiceCandidatePtr>> per_component;
    for (const Candidate& candidate : transport.candidates) {
        const IceFields* ice = candidate.ice();
        if (ice == nullptr) {
            report.skipped.push_back("a SOCKS5 candidate in an ICE-UDP transport");
            continue;
        }
        const std::string what = std::string(to_string(ice->type)) + " " + candidate.host + ":" +
                                 std::to_string(candidate.port) + " (component " +
                                 std::to_string(ice->component) + ")";
        if (std::any_of(known_.begin(), known_.end(),
                        [&](const Candidate& k) { return same_candidate(k, candidate); })) {
            ++report.already_known;
            continue;
        }
        auto converted = to_nice(candidate, stream_id_);
        if (!converted) {
            report.skipped.push_back(what + ": " + converted.error().message);
            continue;
        }
        if ((*converted)->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE) {
            // libnice refuses a remote prflx (agent.c, priv_add_remote_candidate);
            // as srflx it is paired alike, keeping the peer's priority.
            (*converted)->type = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
        }
        per_component[ice->component].push_back(std::move(*converted));
        known_.push_back(candidate);
    }

    for (auto& [component, candidates] : per_component) {
        GSList* list = nullptr;
        for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
            list = g_slist_prepend(list, it->get());
        }
        std::unique_ptr<GSList, SListFree> owned(list);
        const int added = nice_agent_set_remote_candidates(agent_, stream_id_, component, list);
        if (added < 0) { // the stream has no such component
            report.skipped.push_back(std::to_string(candidates.size()) +
                                     " candidate(s) of component " + std::to_string(component) +
                                     ": the stream has no such component");
            known_.erase(std::remove_if(known_.begin(), known_.end(),
                                        [c = component](const Candidate& k) {
                                            return k.ice()->component == c;
                                        }),
                         known_.end());
            continue;
        }
        report.added += static_cast<std::size_t>(added);
        if (static_cast<std::size_t>(added) < candidates.size()) {
            report.skipped.push_back(std::to_string(candidates.size() - added) + " of component " +
                                     std::to_string(component) +
                                     " not added by the NiceAgent (libnice gave no reason)");
        }
    }
    return report;
}

Result<void> RemoteCandidates::end_of_candidates() {
    if (agent_ == nullptr || !nice_agent_peer_candidate_gathering_done(agent_, stream_id_)) {
        return Error{"the NiceAgent has no stream " + std::to_string(stream_id_)};
    }
    return {};
}

} // namespace jgather::nice
