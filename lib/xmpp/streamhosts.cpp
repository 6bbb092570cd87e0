// jgather's SOCKS5 candidates as gloox's StreamHostList.
#include <algorithm>

#include <jgather/gloox.hpp>

namespace jgather::xmpp {

::gloox::StreamHostList streamhosts(const std::vector<Candidate>& candidates) {
    std::vector<const Candidate*> s5b;
    for (const Candidate& candidate : candidates) {
        if (candidate.transport() == TransportKind::Socks5) {
            s5b.push_back(&candidate);
        }
    }
    // gloox has no priority: the order is the preference (XEP-0260 §2.4 tries by priority).
    std::stable_sort(s5b.begin(), s5b.end(), [](const Candidate* a, const Candidate* b) {
        return a->priority > b->priority;
    });
    ::gloox::StreamHostList hosts;
    for (const Candidate* candidate : s5b) {
        hosts.push_back({::gloox::JID(candidate->s5b()->jid), candidate->host, candidate->port});
    }
    return hosts;
}

} // namespace jgather::xmpp
