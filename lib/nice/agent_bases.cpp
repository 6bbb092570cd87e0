// The NiceAgent mode: a BaseProvider that drives one stream of the application's agent, and the
// "libnice" source that reports the agent's own srflx and relay candidates.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <jgather/nice.hpp>

#include "../sources/host.hpp"
#include "../util/guard.hpp"
#include "convert.hpp"

namespace jgather::nice {
namespace {

// libnice 0.1.21 takes at most this many local addresses (NICE_CANDIDATE_MAX_LOCAL_ADDRESSES).
constexpr std::size_t kMaxAgentAddresses = NICE_CANDIDATE_MAX_LOCAL_ADDRESSES;
// ... and this many TURN servers per component (NICE_CANDIDATE_MAX_TURN_SERVERS).
constexpr std::size_t kMaxAgentRelays = NICE_CANDIDATE_MAX_TURN_SERVERS;

// libnice's local preference of a UDP candidate (candidate.c, ice_local_preference_full):
// direction preference 1 in bits 13-15, the TURN server's rank in bits 6-8 and the address's
// position in bits 0-5, so every srflx it makes has a local preference of 8192 or more. A guess
// gets 4096 + the address's position: below all of them, in the same order (RFC 8445 §5.1.2.1).
constexpr std::uint16_t kGuessBase = 4096;
constexpr std::uint16_t kAddressPositionMask = 0x3f;

// The agent-wide list of addresses jgather gave it (nice_agent_add_local_address appends
// unconditionally; a second stream of the same agent must not add them twice).
constexpr const char* kAddedAddressesKey = "jgather-local-addresses";

struct GObjectUnref {
    void operator()(gpointer object) const noexcept { g_object_unref(object); }
};

// One signal handler, disconnected when this goes.
class SignalConnection {
public:
    SignalConnection() = default;
    SignalConnection(gpointer instance, const char* signal, GCallback callback, gpointer data)
        : instance_(instance), id_(g_signal_connect(instance, signal, callback, data)) {}
    SignalConnection(SignalConnection&& other) noexcept
        : instance_(std::exchange(other.instance_, nullptr)), id_(std::exchange(other.id_, 0)) {}
    SignalConnection& operator=(SignalConnection&& other) noexcept {
        std::swap(instance_, other.instance_);
        std::swap(id_, other.id_);
        return *this;
    }
    ~SignalConnection() {
        if (instance_ != nullptr && id_ != 0) {
            g_signal_handler_disconnect(instance_, id_);
        }
    }

private:
    gpointer instance_ = nullptr;
    gulong id_ = 0;
};

// The STUN server that taught a srflx; "" when libnice does not say.
std::string stun_server_of(const NiceCandidate& candidate) {
    NiceAddress server;
    nice_address_init(&server);
    if (!nice_candidate_stun_server_address(&candidate, &server)) {
        return "";
    }
    const auto address = detail::from_nice_address(server);
    return address ? address->to_string() : "";
}

// The TURN server, among those given to the agent, that allocated @p relayed: the one on the
// relayed address's IP (RFC 8656 §3: the relay is an address of the server), else the only one.
// Not nice_candidate_relay_address(): libnice 0.1.21's copies, the new-candidate-full signal's
// argument among them, lose the TURN server (nice_candidate_copy sets it to NULL), and it reads
// through that pointer. Several TURN transports to one server are told apart by nothing libnice
// gives out, so the first given (UDP before TCP from XEP-0215) is named.
std::string turn_server_of(const TransportAddress& relayed, const std::vector<TurnServer>& relays) {
    const auto same_ip = std::find_if(relays.begin(), relays.end(), [&](const TurnServer& t) {
        return t.address.ip == relayed.ip;
    });
    if (same_ip != relays.end()) {
        return same_ip->address.to_string();
    }
    return relays.size() == 1 ? relays.front().address.to_string() : "";
}

// What the provider and the source share: the agent's stream, its bases, and what the agent
// reported before the source started (its signals may come from inside gather()).
struct AgentLink {
    NiceAgent* agent = nullptr; // referenced by the provider
    guint stream_id = 0;
    unsigned components = 1;
    std::vector<Base> bases;
    std::vector<NiceCandidatePtr> early; // srflx/relay before the source started
    bool gathering_done = false;
    SourceSink* sink = nullptr; // while the source runs
    // The servers: what was chosen and why (the source's report detail).
    std::vector<std::string> notes;
    std::vector<TurnServer> relays;              // given to the agent
    std::optional<TransportAddress> stun_server; // stun-server (by hand or from the directory)
    IceServerDirectory* services = nullptr;
    bool awaiting_services = false; // the directory had no answer when gathering started
    std::uint64_t services_request = 0;
    // Each base's mapping per server (srflx), for the related address of its relays.
    std::map<std::pair<std::size_t, std::string>, TransportAddress> mapped;
    std::map<std::string, std::size_t> relays_from; // relay candidates per TURN server

    bool has_base_of(Family family) const {
        return std::any_of(bases.begin(), bases.end(),
                           [family](const Base& b) { return b.local.ip.family() == family; });
    }

    // nice_agent_set_relay_info for every component; before or during the gathering.
    std::size_t add_relays(const std::vector<TurnServer>& servers) {
        std::size_t added = 0;
        for (const TurnServer& turn : servers) {
            const std::string what = "TURN " + std::string(to_string(turn.transport)) + " " +
                                     turn.address.to_string() + " (" + turn.origin + ")";
            if (std::find(relays.begin(), relays.end(), turn) != relays.end()) {
                continue;
            }
            if (!bases.empty() && !has_base_of(turn.address.ip.family())) {
                notes.push_back(what + " not used: no local address of its family");
                continue;
            }
            if (relays.size() == kMaxAgentRelays) {
                notes.push_back(what + " not used: libnice takes " +
                                std::to_string(kMaxAgentRelays) + " TURN servers per component");
                continue;
            }
            const std::string ip = turn.address.ip.to_string();
            bool given = true;
            for (unsigned c = 1; c <= components; ++c) {
                given = nice_agent_set_relay_info(
                            agent, stream_id, c, ip.c_str(), turn.address.port,
                            turn.username.c_str(), turn.password.c_str(),
                            turn.transport == RelayTransport::Tcp ? NICE_RELAY_TYPE_TURN_TCP
                                                                  : NICE_RELAY_TYPE_TURN_UDP) &&
                        given;
            }
            if (!given) {
                notes.push_back(what + " refused by libnice");
                continue;
            }
            relays.push_back(turn);
            notes.push_back(what + " given to libnice");
            ++added;
        }
        return added;
    }

    // What became of the directory's answer that came after the agent started gathering.
    void late_services(const ExternalServices& found) {
        awaiting_services = false;
        services_request = 0;
        if (!found.error.empty()) {
            notes.push_back("external service discovery failed: " + found.error);
        } else if (!stun_server && !found.stun_servers().empty()) {
            notes.push_back("the STUN servers from " + found.server +
                            " came after libnice had started gathering and were not used "
                            "(libnice reads stun-server once; ask the directory before gather())");
        }
        const bool was_done = gathering_done;
        if (add_relays(found.turn_servers()) > 0 && was_done) {
            gathering_done = false; // libnice gathers again for them and says when it is done
        }
        if (gathering_done && sink != nullptr) {
            SourceSink* s = std::exchange(sink, nullptr);
            s->finish(SourceStatus::ok(detail()));
        }
    }

    // What the gathering says at its end: the notes, then each TURN server without a relay.
    // libnice reports no failed allocation (wrong credentials, a refusal and silence look the
    // same), so the missing relay candidate is the evidence.
    std::string detail() const {
        std::vector<std::string> lines = notes;
        std::map<std::string, std::vector<const TurnServer*>> by_server;
        for (const TurnServer& turn : relays) {
            by_server[turn.address.to_string()].push_back(&turn);
        }
        for (const auto& [server, given] : by_server) {
            std::string transports;
            for (const TurnServer* turn : given) {
                transports +=
                    (transports.empty() ? "" : "/") + std::string(to_string(turn->transport));
            }
            const std::string what = "TURN " + transports + " " + server + ": ";
            if (!relays_from.contains(server)) {
                lines.push_back(what +
                                "no relay allocated (wrong or expired credentials, a refusal or "
                                "no answer: libnice does not say which)");
            } else if (given.size() > 1) {
                // discovery.c, priv_add_local_candidate_pruned: a relay on a relayed IP that
                // already has one is redundant, and its allocation is released (lifetime 0).
                lines.push_back(what + "one relay kept; libnice keeps one per relayed address "
                                       "and releases the other allocations");
            }
        }
        std::string text;
        for (const std::string& line : lines) {
            text += (text.empty() ? "" : "; ") + line;
        }
        return text;
    }

    // The server that taught a srflx: the STUN server, or the TURN server whose allocation
    // reported the mapping. libnice 0.1.21 names the relayed address as that srflx's "STUN
    // server" (conncheck.c, on an Allocate success), which is no server at all.
    std::string srflx_server_of(const NiceCandidate& candidate) const {
        const std::string said = stun_server_of(candidate);
        if (stun_server && said == stun_server->to_string()) {
            return said;
        }
        for (const TurnServer& turn : relays) {
            if (said == turn.address.to_string()) {
                return said;
            }
        }
        const auto relayed = TransportAddress::parse(said);
        const std::string turn = relayed ? turn_server_of(*relayed, relays) : "";
        return turn.empty() ? said : turn;
    }

    void report(const NiceCandidate& candidate) {
        const auto type = detail::from_nice_type(candidate.type);
        const auto address = detail::from_nice_address(candidate.addr);
        const auto base_address = detail::from_nice_address(candidate.base_addr);
        if (!type || !address || !base_address ||
            candidate.transport != NICE_CANDIDATE_TRANSPORT_UDP) {
            return; // TCP (ice-tcp left on by the application): XEP-0176 cannot carry it
        }
        auto base = std::find_if(bases.begin(), bases.end(), [&](const Base& b) {
            return b.component == candidate.component_id && b.address() == *base_address;
        });
        if (base == bases.end() && *type == IceType::Relay) {
            // Over TURN-TCP libnice's base is the TCP connection to the server (discovery.c,
            // discovery_add_relay_candidate), not the UDP host socket: the same local address
            // and component, another port. jgather has one base per address and component.
            base = std::find_if(bases.begin(), bases.end(), [&](const Base& b) {
                return b.component == candidate.component_id && b.local.ip == base_address->ip;
            });
        }
        if (base == bases.end()) {
            return; // on an address jgather did not choose (added by the application itself)
        }
        const std::string server = *type == IceType::Relay   ? turn_server_of(*address, relays)
                                   : *type == IceType::Srflx ? srflx_server_of(candidate)
                                                             : "";
        const std::size_t index = static_cast<std::size_t>(base - bases.begin());
        std::optional<TransportAddress> related;
        if (*type == IceType::Srflx) {
            mapped[{index, server}] = *address;
        } else if (*type == IceType::Relay) {
            ++relays_from[server];
            // RFC 8445 §5.1.1.2: a relay's related address is the mapping its allocation saw
            // (libnice reports that srflx first, and gives the relay the host as its base).
            auto same = mapped.find({index, server});
            if (same == mapped.end()) {
                same = std::find_if(mapped.begin(), mapped.end(),
                                    [index](const auto& m) { return m.first.first == index; });
            }
            if (same != mapped.end()) {
                related = same->second;
            }
        }
        sink->add_candidate({*type, *address, index, server,
                             AgentNumbers{candidate.priority, candidate.foundation}, related});
        if (*type == IceType::Srflx && sink != nullptr) {
            // The mapping tells the external address too (the verdict, SOCKS5's assisted).
            ExternalAddress external{address->ip, address->port, std::nullopt, {"libnice", server}};
            external.ice_candidates_reported = true;
            sink->add_external_address(std::move(external));
        }
    }

    void on_candidate(NiceCandidate* candidate) {
        if (candidate == nullptr || candidate->stream_id != stream_id ||
            candidate->type == NICE_CANDIDATE_TYPE_HOST) {
            return; // the host candidates became the bases in open()
        }
        if (sink == nullptr) {
            early.emplace_back(nice_candidate_copy(candidate));
        } else {
            report(*candidate);
        }
    }

    void on_gathering_done(guint stream) {
        if (stream != stream_id || gathering_done) {
            return;
        }
        gathering_done = true;
        if (sink != nullptr && !awaiting_services) {
            SourceSink* s = std::exchange(sink, nullptr);
            s->finish(SourceStatus::ok(detail()));
        }
    }
};

void on_new_candidate_full(NiceAgent*, NiceCandidate* candidate, gpointer data) {
    auto* link = static_cast<AgentLink*>(data);
    if (auto thrown = jgather::detail::contain([&] { link->on_candidate(candidate); })) {
        g_warning("jgather: reporting a libnice candidate threw: %s", thrown->c_str());
    }
}

void on_candidate_gathering_done(NiceAgent*, guint stream_id, gpointer data) {
    auto* link = static_cast<AgentLink*>(data);
    if (auto thrown = jgather::detail::contain([&] { link->on_gathering_done(stream_id); })) {
        g_warning("jgather: ending the libnice source threw: %s", thrown->c_str());
    }
}

Error no_socket_of_its_own() {
    return Error{"the NiceAgent owns the base sockets: jgather cannot send or read on them "
                 "(libnice asks its own STUN server: AgentOptions::stun_server)"};
}

class AgentBases final : public BaseProvider {
public:
    AgentBases(NiceAgent* agent, guint stream_id, AgentOptions options,
               std::shared_ptr<AgentLink> link)
        : agent_(static_cast<NiceAgent*>(g_object_ref(agent))), options_(std::move(options)),
          link_(std::move(link)) {
        link_->agent = agent;
        link_->stream_id = stream_id;
    }
    ~AgentBases() override {
        signals_.clear(); // before the agent reference goes
    }

    std::string name() const override { return "host"; }

    Result<ProvidedBases> open(const GatherOptions& options) override {
        NiceAgent* agent = agent_.get();
        const guint stream = link_->stream_id;
        if (!options.ice) {
            return Error{"a NiceAgent serves ICE: GatherOptions::ice must be on"};
        }
        if (auto shape = check_stream(options.components); !shape) {
            return shape.error();
        }
        ProvidedBases provided;
        auto chosen =
            jgather::detail::choose_host_addresses(options.host, provided.local_addresses);
        if (!chosen) {
            return chosen.error();
        }
        provided.dropped = std::move(chosen->dropped);
        std::vector<jgather::detail::UsableAddress> usable = std::move(chosen->usable);
        if (usable.empty()) {
            // With no address given, libnice would enumerate its own, bypassing the policy.
            return Error{"no usable local address (HostOptions): nothing to give the NiceAgent"};
        }
        if (usable.size() > kMaxAgentAddresses) {
            for (auto it = usable.begin() + kMaxAgentAddresses; it != usable.end(); ++it) {
                provided.dropped.push_back({it->local.ip.to_string(), it->local.interface,
                                            "libnice takes at most 64 local addresses"});
            }
            usable.resize(kMaxAgentAddresses);
        }
        add_local_addresses(usable);
        link_->components = options.components;
        for (const auto& address : usable) { // the families, for choosing servers
            Base b;
            b.local = address.local;
            link_->bases.push_back(b);
        }
        plan_servers(options.relay_only);
        link_->bases.clear();
        for (unsigned component = 1; component <= options.components; ++component) {
            if (options.host.port_min != 0) {
                nice_agent_set_port_range(agent, stream, component, options.host.port_min,
                                          options.host.port_max);
            }
        }
        apply_settings();
        signals_.emplace_back(agent, "new-candidate-full", G_CALLBACK(on_new_candidate_full),
                              link_.get());
        signals_.emplace_back(agent, "candidate-gathering-done",
                              G_CALLBACK(on_candidate_gathering_done), link_.get());
        if (!nice_agent_gather_candidates(agent, stream)) {
            return Error{"nice_agent_gather_candidates failed on stream " + std::to_string(stream) +
                         ": no host candidate could be made"};
        }
        take_host_candidates(usable, options.components, provided);
        if (provided.bases.empty()) {
            return Error{"the NiceAgent made no UDP host candidate on the chosen addresses"};
        }
        link_->bases = provided.bases;
        if (options.relay_only) {
            // After the host candidates are read: with force-relay set, libnice lists relays
            // only. From now on it pairs and checks from its relays alone.
            g_object_set(G_OBJECT(agent), "force-relay", TRUE, nullptr);
            link_->notes.push_back("relay-only: libnice's force-relay is on");
        }
        gchar* ufrag = nullptr;
        gchar* pwd = nullptr;
        if (nice_agent_get_local_credentials(agent, stream, &ufrag, &pwd)) {
            provided.credentials = IceCredentials{ufrag, pwd};
        }
        g_free(ufrag);
        g_free(pwd);
        return provided;
    }

    Result<void> send(std::size_t, std::span<const std::uint8_t>,
                      const TransportAddress&) override {
        return no_socket_of_its_own();
    }
    void receive(EventLoop&, std::function<void(const Datagram&)>) override {
        // Nothing to read: the agent reads its sockets. Sources that need them fail to send.
    }
    std::vector<OwnedSocket> take_sockets() override { return {}; }

private:
    Result<void> check_stream(unsigned components) const {
        NiceAgent* agent = agent_.get();
        const guint stream = link_->stream_id;
        // nice_agent_get_component_state gives FAILED for a component that does not exist, and
        // DISCONNECTED for one that has not gathered yet.
        for (unsigned c = 1; c <= components; ++c) {
            const NiceComponentState state = nice_agent_get_component_state(agent, stream, c);
            if (state == NICE_COMPONENT_STATE_FAILED) {
                return Error{"the NiceAgent has no stream " + std::to_string(stream) +
                             " with component " + std::to_string(c) +
                             " (GatherOptions::components is " + std::to_string(components) + ")"};
            }
            if (state != NICE_COMPONENT_STATE_DISCONNECTED) {
                return Error{"stream " + std::to_string(stream) +
                             " has gathered already (component " + std::to_string(c) + " is " +
                             nice_component_state_to_string(state) +
                             "): jgather must start its gathering"};
            }
        }
        if (nice_agent_get_component_state(agent, stream, components + 1) ==
            NICE_COMPONENT_STATE_DISCONNECTED) {
            return Error{"stream " + std::to_string(stream) + " has more components than " +
                         "GatherOptions::components (" + std::to_string(components) + ")"};
        }
        return {};
    }

    void add_local_addresses(const std::vector<jgather::detail::UsableAddress>& usable) {
        NiceAgent* agent = agent_.get();
        auto* added = static_cast<std::set<std::string>*>(
            g_object_get_data(G_OBJECT(agent), kAddedAddressesKey));
        if (added == nullptr) {
            added = new std::set<std::string>;
            g_object_set_data_full(G_OBJECT(agent), kAddedAddressesKey, added, [](gpointer p) {
                delete static_cast<std::set<std::string>*>(p);
            });
        }
        for (const auto& address : usable) {
            const std::string ip = address.local.ip.to_string();
            if (added->insert(ip).second) {
                NiceAddress nice_address = detail::to_nice_address({address.local.ip, 0});
                nice_agent_add_local_address(agent, &nice_address);
            }
        }
    }

    void apply_settings() const {
        GObject* agent = G_OBJECT(agent_.get());
        const AgentSettings& s = options_.settings;
        if (s.upnp) {
            g_object_set(agent, "upnp", gboolean(*s.upnp), nullptr);
        }
        if (s.ice_tcp) {
            g_object_set(agent, "ice-tcp", gboolean(*s.ice_tcp), nullptr);
        }
        if (s.ice_trickle) {
            g_object_set(agent, "ice-trickle", gboolean(*s.ice_trickle), nullptr);
        }
    }

    // libnice's one STUN server and its TURN servers, before the agent gathers.
    void plan_servers(bool relay_only) {
        AgentLink& link = *link_;
        link.services = options_.services;
        const std::optional<ExternalServices> known =
            options_.services ? options_.services->cached() : std::nullopt;
        std::optional<TransportAddress> stun;
        std::string why;
        if (relay_only) {
            link.notes.push_back("relay-only: no STUN server (a srflx would not be advertised)");
        } else if (options_.stun_server) {
            stun = options_.stun_server;
            why = "configured";
        } else if (known) {
            const auto servers = known->stun_servers();
            const auto first = std::find_if(servers.begin(), servers.end(), [&](const auto& s) {
                return link.has_base_of(s.ip.family());
            });
            if (first != servers.end()) {
                stun = *first;
                why = "the first usable of " + std::to_string(servers.size()) +
                      " STUN server(s) from " + known->server +
                      " of a family with a local address; libnice takes one per agent";
            }
        }
        if (stun) {
            g_object_set(G_OBJECT(agent_.get()), "stun-server", stun->ip.to_string().c_str(),
                         "stun-server-port", guint(stun->port), nullptr);
            link.stun_server = *stun;
            link.notes.push_back("libnice's STUN server: " + stun->to_string() + " (" + why + ")");
        }
        link.add_relays(options_.relays);
        if (known) {
            if (!known->error.empty()) {
                link.notes.push_back("external service discovery failed: " + known->error);
            }
            link.add_relays(known->turn_servers());
        } else if (options_.services) {
            link.awaiting_services = true; // the libnice source asks and waits
        }
    }

    // The agent's UDP host candidates, in jgather's order of addresses: the bases.
    void take_host_candidates(const std::vector<jgather::detail::UsableAddress>& usable,
                              unsigned components, ProvidedBases& provided) const {
        std::vector<std::vector<NiceCandidatePtr>> per_component(components + 1);
        for (unsigned c = 1; c <= components; ++c) {
            GSList* list = nice_agent_get_local_candidates(agent_.get(), link_->stream_id, c);
            for (GSList* i = list; i != nullptr; i = i->next) {
                per_component[c].emplace_back(static_cast<NiceCandidate*>(i->data));
            }
            g_slist_free(list);
        }
        for (const auto& address : usable) {
            const std::size_t first = provided.bases.size();
            for (unsigned c = 1; c <= components; ++c) {
                const auto& candidates = per_component[c];
                const auto host =
                    std::find_if(candidates.begin(), candidates.end(), [&](const auto& n) {
                        const auto a = detail::from_nice_address(n->addr);
                        return n->type == NICE_CANDIDATE_TYPE_HOST &&
                               n->transport == NICE_CANDIDATE_TRANSPORT_UDP && a &&
                               a->ip == address.local.ip;
                    });
                if (host == candidates.end()) {
                    provided.dropped.push_back(
                        {address.local.ip.to_string(), address.local.interface,
                         "the NiceAgent made no UDP host candidate on it for component " +
                             std::to_string(c)});
                    provided.bases.resize(first); // every component or none (RFC 8445 §5.1.1.1)
                    break;
                }
                Base base;
                base.local = address.local;
                base.component = c;
                base.port = static_cast<std::uint16_t>(nice_address_get_port(&(*host)->addr));
                base.local_preference = address.local_preference;
                base.agent = AgentNumbers{(*host)->priority, (*host)->foundation};
                const auto agent_preference = static_cast<std::uint16_t>((*host)->priority >> 8);
                base.guessed_local_preference = static_cast<std::uint16_t>(
                    kGuessBase + (agent_preference & kAddressPositionMask));
                provided.bases.push_back(std::move(base));
            }
        }
    }

    std::unique_ptr<NiceAgent, GObjectUnref> agent_;
    AgentOptions options_;
    std::shared_ptr<AgentLink> link_;
    std::vector<SignalConnection> signals_;
};

// Reports what the agent finds beyond its host candidates, and ends with its gathering.
class AgentSource final : public Source {
public:
    explicit AgentSource(std::shared_ptr<AgentLink> link) : link_(std::move(link)) {}
    ~AgentSource() override { stop(); }

    std::string name() const override { return "libnice"; }

    void start(SourceSink& sink) override {
        link_->sink = &sink;
        for (const NiceCandidatePtr& candidate : std::exchange(link_->early, {})) {
            link_->report(*candidate);
        }
        if (link_->awaiting_services && link_->services != nullptr) {
            std::weak_ptr<AgentLink> weak = link_;
            link_->services_request = link_->services->request([weak](const ExternalServices& s) {
                if (auto link = weak.lock()) {
                    link->late_services(s);
                }
            });
            return;
        }
        if (link_->gathering_done) {
            link_->sink = nullptr;
            sink.finish(SourceStatus::ok(link_->detail()));
        }
    }
    void stop() override {
        link_->sink = nullptr;
        if (link_->services_request != 0 && link_->services != nullptr) {
            link_->services->cancel(std::exchange(link_->services_request, 0));
        }
    }

private:
    std::shared_ptr<AgentLink> link_;
};

} // namespace

Result<void> attach(Gatherer& gatherer, NiceAgent* agent, guint stream_id, AgentOptions options) {
    if (agent == nullptr || !NICE_IS_AGENT(agent)) {
        return Error{"attach() needs a NiceAgent"};
    }
    if (stream_id == 0) {
        return Error{"stream ids start at 1 (nice_agent_add_stream)"};
    }
    if (gatherer.phase() != GatherPhase::Idle) {
        return Error{"attach() goes before gather()"};
    }
    if (options.stun_server && options.stun_server->port == 0) {
        return Error{"the STUN server's port must be 1-65535"};
    }
    for (const TurnServer& turn : options.relays) {
        if (turn.address.port == 0 || turn.username.empty() || turn.password.empty()) {
            return Error{"TURN server " + turn.address.to_string() +
                         ": a port, a username and a password are needed (make_turn_server())"};
        }
    }
    auto link = std::make_shared<AgentLink>();
    gatherer.set_base_provider(
        std::make_unique<AgentBases>(agent, stream_id, std::move(options), link));
    gatherer.add_source(std::make_unique<AgentSource>(std::move(link)));
    return {};
}

} // namespace jgather::nice
